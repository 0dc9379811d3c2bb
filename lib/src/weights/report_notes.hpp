#pragma once
// Sentences the text and HTML weight reports share.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstddef>
#include <string>
#include <vector>

#include "gradcheck/weights/report.hpp"
#include "../core/format.hpp"

namespace gradcheck::internal {

/// Says how many tensors are an optimizer's state and what that means for
/// their flags; empty when there are none.
inline std::string optimizer_state_note(const weights::WeightsReport& report) {
  std::size_t n = 0;
  for (const auto& t : report.tensors) n += t.role == weights::TensorRole::optimizer_state;
  if (n == 0) return {};
  return std::to_string(n) + (n == 1 ? " tensor is" : " tensors are") +
         " an optimizer's state (torch.optim's state.<index>.<key>, Keras's optimizer variables: Adam's "
         "moments, momentum buffers, step counts): statistics and the nan and inf flags only, no weight flags";
}

/// The tensors not read, grouped by type: "2 tensors of type IQ3_S (1.2 MiB) were not read: ...".
inline std::vector<std::string> skipped_lines(const weights::WeightsReport& report) {
  std::vector<std::string> out;
  std::vector<std::string> types;
  for (const auto& k : report.skipped)
    if (std::find(types.begin(), types.end(), k.type) == types.end()) types.push_back(k.type);
  for (const auto& type : types) {
    std::size_t n = 0;
    std::uint64_t bytes = 0;
    std::string first, reason;
    for (const auto& k : report.skipped)
      if (k.type == type) {
        if (n++ == 0) first = k.name, reason = k.reason;
        bytes += k.bytes;
      }
    const std::string size = bytes < 10240 ? std::to_string(bytes) + " bytes"
                             : bytes < (10u << 20) ? general(double(bytes) / 1024.0, 3) + " KiB"
                             : bytes < (10ull << 30) ? general(double(bytes) / 1048576.0, 3) + " MiB"
                                                     : general(double(bytes) / 1073741824.0, 3) + " GiB";
    out.push_back(std::to_string(n) + (n == 1 ? " tensor" : " tensors") + " of type " + type + " (" + size +
                  ", first '" + first + "') not read: " + reason +
                  (n == 1 ? "; it is" : "; they are") + " not in the statistics or the verdict");
  }
  return out;
}

/// One line per unsafe global of a pickle: where, what it does, and why it
/// matters (torch.load unpickles, so it would call it).
inline std::vector<std::string> unsafe_pickle_lines(const weights::WeightsReport& report) {
  std::vector<std::string> out;
  for (const auto& f : report.unsafe_pickle)
    out.push_back(f.file + ": its pickle calls " + f.global + " (byte " + std::to_string(f.offset) + " of data.pkl), which " +
                  f.reason + ": torch.load on this file would run it. Nothing was run here; load only files you trust, "
                  "and with torch.load(..., weights_only=True)");
  return out;
}

/// One line per file whose pickle held classes read as inert placeholders,
/// and one per file with no tensor at all.
inline std::vector<std::string> pickle_notes(const weights::WeightsReport& report) {
  std::vector<std::string> out;
  for (const auto& u : report.uninterpreted) {
    std::string classes;
    for (std::size_t k = 0; k < u.classes.size(); ++k) {
      if (k == 8) {
        classes += ", and " + std::to_string(u.classes.size() - 8) + " more";
        break;
      }
      classes += (k ? ", " : "") + u.classes[k];
    }
    out.push_back(u.file + ": not interpreted, read as inert placeholders (never called; tensors inside them are "
                  "reported): " + classes);
  }
  for (const auto& f : report.files) {
    bool any = false;
    for (const auto& t : report.tensors) any = any || t.file == f;
    if (!any) out.push_back(f + ": no tensor in this file");
  }
  return out;
}

/// Per optimizer saved beside the weights, one line: its kind, learning rate,
/// and each parameter's last step over its norm (or why not).
inline std::vector<std::string> optimizer_lines(const weights::WeightsReport& report) {
  std::vector<std::string> out;
  for (const auto& o : report.optimizers) {
    std::string line = "optimizer " + (o.prefix.empty() ? std::string("(the file itself)") : o.prefix) + " (" + o.kind +
                       (std::isnan(o.lr) ? std::string() : ", lr " + general(o.lr, 3)) + "): ";
    if (o.steps.empty()) {
      line += o.note;
    } else {
      line += "its last step over the weight's norm (healthy training: about 1e-3): ";
      for (std::size_t k = 0; k < o.steps.size(); ++k) {
        if (k == 12) {
          line += ", ...";
          break;
        }
        line += (k ? ", " : "") + o.steps[k].parameter + " " + general(o.steps[k].update_ratio, 2);
      }
    }
    out.push_back(line);
  }
  return out;
}

}  // namespace gradcheck::internal
