#include "active_json.hpp"
#include "../core/json_out.hpp"

#include "symptom_json.hpp"

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

namespace gradcheck::diag::detail {
namespace {

using json = nlohmann::ordered_json;

json number(double v) { return gradcheck::internal::json_number<json>(v); }
json optional_number(const std::optional<double>& v) { return v ? number(*v) : json(nullptr); }

double read_number(const json& j) {
  return j.is_null() ? std::numeric_limits<double>::quiet_NaN() : j.get<double>();
}
std::optional<double> read_optional(const json& j) {
  if (j.is_null()) return std::nullopt;
  return j.get<double>();
}

json numbers(const std::vector<double>& v) {
  json a = json::array();
  for (double x : v) a.push_back(number(x));
  return a;
}


}  // namespace

std::string model_to_json(const ModelActive& m) {
  json j;
  j["model"] = m.model;
  j["dtype"] = m.dtype;
  j["values"] = m.values;
  j["initial_loss"] = number(m.initial_loss);
  j["expected_initial_loss"] = optional_number(m.expected_initial_loss);
  j["mean_initial_loss"] = optional_number(m.mean_initial_loss);
  json overfit = json::array();
  for (const auto& a : m.overfit) {
    json ja;
    ja["optimizer"] = a.optimizer;
    ja["learning_rate"] = number(a.learning_rate);
    ja["steps"] = a.steps;
    ja["initial_loss"] = number(a.initial_loss);
    ja["final_loss"] = number(a.final_loss);
    ja["goal"] = number(a.goal);
    ja["reached"] = a.reached;
    ja["diverged"] = a.diverged;
    ja["rates_tried"] = numbers(a.rates_tried);
    ja["loss_stride"] = a.loss_stride;
    ja["losses"] = numbers(a.losses);
    overfit.push_back(std::move(ja));
  }
  j["overfit"] = std::move(overfit);
  json points = json::array();
  for (const auto& p : m.lr_range.points) points.push_back({number(p.learning_rate), number(p.loss)});
  j["lr_range"] = {{"points", std::move(points)},
                   {"suggested_rate", optional_number(m.lr_range.suggested_rate)},
                   {"min_loss_rate", optional_number(m.lr_range.min_loss_rate)},
                   {"note", m.lr_range.note}};
  json symptoms = json::array();
  for (const auto& s : m.symptoms) symptoms.push_back(internal::symptom_json(s));
  j["symptoms"] = std::move(symptoms);
  j["failure"] = m.failure;
  j["notes"] = m.notes;
  j["evaluations"] = m.evaluations;
  j["seconds"] = m.seconds;
  return gradcheck::internal::dump_utf8(std::move(j));
}

ModelActive model_from_json(std::string_view text) {
  const json j = json::parse(text);
  ModelActive m;
  m.model = j.at("model").get<std::string>();
  m.dtype = j.at("dtype").get<std::string>();
  m.values = j.at("values").get<std::int64_t>();
  m.initial_loss = read_number(j.at("initial_loss"));
  m.expected_initial_loss = read_optional(j.at("expected_initial_loss"));
  m.mean_initial_loss = read_optional(j.at("mean_initial_loss"));
  for (const auto& ja : j.at("overfit")) {
    OverfitAttempt a;
    a.optimizer = ja.at("optimizer").get<std::string>();
    a.learning_rate = read_number(ja.at("learning_rate"));
    a.steps = ja.at("steps").get<int>();
    a.initial_loss = read_number(ja.at("initial_loss"));
    a.final_loss = read_number(ja.at("final_loss"));
    a.goal = read_number(ja.at("goal"));
    a.reached = ja.at("reached").get<bool>();
    a.diverged = ja.at("diverged").get<bool>();
    for (const auto& r : ja.at("rates_tried")) a.rates_tried.push_back(read_number(r));
    a.loss_stride = ja.at("loss_stride").get<int>();
    for (const auto& l : ja.at("losses")) a.losses.push_back(read_number(l));
    m.overfit.push_back(std::move(a));
  }
  const json& lr = j.at("lr_range");
  for (const auto& p : lr.at("points")) m.lr_range.points.push_back({read_number(p.at(0)), read_number(p.at(1))});
  m.lr_range.suggested_rate = read_optional(lr.at("suggested_rate"));
  m.lr_range.min_loss_rate = read_optional(lr.at("min_loss_rate"));
  m.lr_range.note = lr.at("note").get<std::string>();
  for (const auto& js : j.at("symptoms")) {
    Symptom s;
    s.kind = symptom_kind_from_string(js.at("kind").get<std::string>());
    s.metric = js.at("metric").get<std::string>();
    s.step_start = js.at("step_start").get<std::int64_t>();
    s.step_end = js.at("step_end").get<std::int64_t>();
    s.severity = js.at("severity").get<std::string>() == "error" ? Severity::error : Severity::warning;
    s.evidence = js.at("evidence").get<std::string>();
    s.advice = js.at("advice").get<std::string>();
    m.symptoms.push_back(std::move(s));
  }
  m.failure = j.at("failure").get<std::string>();
  m.notes = j.at("notes").get<std::vector<std::string>>();
  m.evaluations = j.at("evaluations").get<std::int64_t>();
  m.seconds = j.at("seconds").get<double>();
  return m;
}

}  // namespace gradcheck::diag::detail
