#include "model_children.hpp"

#include "../core/json_out.hpp"
#include "../core/log.hpp"

#include <chrono>
#include <map>
#include <optional>
#include <set>

namespace gradcheck::host {

using host::Channel;
using json = nlohmann::json;

void send_input_error(Channel& ch, const InputError& e) {
  ch.send(gradcheck::internal::dump_utf8(json{{"type", "input_error"}, {"file", e.file()}, {"reason", e.reason()}}));
}

std::string run_models_in_children(const std::string& plugin_path, std::vector<std::string> names,
                                   const ModelChildren& hooks, const host::ChildOptions& options) {
  bool named = !names.empty();
  std::set<std::string> finished;
  do {
    std::string current;
    std::map<std::string, std::chrono::steady_clock::time_point> started;
    std::optional<InputError> refused;
    const bool first = !named;
    const auto outcome = host::run_in_child(
        [&](Channel& ch) {
          std::unique_ptr<Plugin> p;
          try {
            Channel::Call call(ch, "loading the plugin");
            p = std::make_unique<Plugin>(plugin_path);
          } catch (const InputError& e) {
            send_input_error(ch, e);
            return 2;
          }
          std::vector<std::string> run = names;
          if (hooks.prepare) {
            const int rc = hooks.prepare(*p, ch, run, first);
            if (rc != 0) return rc;
          }
          if (first) ch.send(gradcheck::internal::dump_utf8(json{{"type", "names"}, {"names", run}}));
          for (const auto& name : run) {
            const std::size_t k = p->find(name);
            ch.send(gradcheck::internal::dump_utf8(json{{"type", "start"}, {"model", name}}));
            json result;
            try {
              result = hooks.run(*p, k, ch);
            } catch (const InputError& e) {
              send_input_error(ch, e);
              return 2;
            }
            ch.send(gradcheck::internal::dump_utf8(json{{"type", "result"}, {"model", name}, {"result", std::move(result)}}));
          }
          return 0;
        },
        [&](std::string_view msg) {
          const json j = json::parse(msg);
          const std::string type = j.at("type").get<std::string>();
          if (type == "input_error") {
            refused.emplace(j.at("file").get<std::string>(), j.at("reason").get<std::string>());
          } else if (type == "names") {
            names = j.at("names").get<std::vector<std::string>>();
            named = true;
          } else if (type == "start") {
            current = j.at("model").get<std::string>();
            started[current] = std::chrono::steady_clock::now();
          } else if (type == "result") {
            finished.insert(j.at("model").get<std::string>());
            hooks.on_result(j.at("result"));
            current.clear();
          } else if (hooks.on_message) {
            hooks.on_message(j);
          }
        },
        options);
    if (refused) throw *refused;
    if (!named) return plugin_path + ": the plugin's code " + outcome.description + " while loading";
    std::vector<std::string> next;
    if (!outcome.returned() || outcome.exit_code != 0) {
      // The child died: blame the model that was running (or all that were
      // left, when it died before starting one), and go on with the rest.
      gradcheck::internal::logger("plugin")->debug("child ended: {}", outcome.description);
      for (const auto& name : names) {
        if (finished.count(name)) continue;
        if (current.empty() || name == current) {
          const std::string when = current.empty() ? " while loading the plugin" : "";
          const auto it = started.find(name);
          const double seconds =
              it == started.end()
                  ? 0
                  : std::chrono::duration<double>(std::chrono::steady_clock::now() - it->second).count();
          hooks.on_failure(name, "model '" + name + "': " + outcome.description + when, seconds);
          finished.insert(name);
        } else {
          next.push_back(name);
        }
      }
    }
    names = std::move(next);
  } while (!names.empty());
  return "";
}

}  // namespace gradcheck::host
