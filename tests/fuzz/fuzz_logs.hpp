#pragma once
// What every log reader promises about the run it returns.
#include <cstring>
#include <string>

#include "fuzz_common.hpp"
#include "gradcheck/diag/diagnose.hpp"
#include "gradcheck/errors.hpp"
#include "gradcheck/logs/run.hpp"

namespace gradcheck::fuzz {

inline void check_run(const logs::Run& run) {
  for (const auto& s : run.series) {
    GRADCHECK_FUZZ_CHECK(s.steps.size() == s.values.size(), s.name);
    check_name(s.name, /*printable=*/true);  // names are shown in one-line report rows
  }
  check_name(run.step_name, /*printable=*/true);
  (void)run.distinct_steps();
  // Whatever a reader accepts, the detectors diagnose: a result, or an
  // InputError when no training loss can be recognised.
  try {
    const diag::RunDiagnosis d = diag::diagnose(run);
    for (const auto& s : d.symptoms) GRADCHECK_FUZZ_CHECK(s.step_start <= s.step_end, d.source);
  } catch (const InputError&) {
  }
}

// Bitwise equality (NaN payloads included): the same bytes must parse to the
// same numbers whatever the thread count.
inline bool same_run(const logs::Run& a, const logs::Run& b) {
  if (a.step_name != b.step_name || a.series.size() != b.series.size()) return false;
  for (std::size_t i = 0; i < a.series.size(); ++i) {
    const auto& x = a.series[i];
    const auto& y = b.series[i];
    if (x.name != y.name || x.steps != y.steps || x.values.size() != y.values.size()) return false;
    if (!x.values.empty() && std::memcmp(x.values.data(), y.values.data(), x.values.size() * sizeof(double)) != 0)
      return false;
  }
  return true;
}

}  // namespace gradcheck::fuzz
