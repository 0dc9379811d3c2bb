#pragma once
// One symptom as the contract's JSON object ({kind, metric, step_start,
// step_end, severity, evidence, advice}), for both reports that list symptoms:
// the logs' (render.cpp) and the active checks' (active_json.cpp).

#include <nlohmann/json.hpp>

#include "gradcheck/diag/diagnose.hpp"

namespace gradcheck::diag::internal {

inline nlohmann::ordered_json symptom_json(const Symptom& s) {
  nlohmann::ordered_json j;
  j["kind"] = to_string(s.kind);
  j["metric"] = s.metric;
  j["step_start"] = s.step_start;
  j["step_end"] = s.step_end;
  j["severity"] = s.severity == Severity::error ? "error" : "warning";
  j["evidence"] = s.evidence;
  j["advice"] = s.advice;
  return j;
}

}  // namespace gradcheck::diag::internal
