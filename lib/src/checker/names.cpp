// The names of the result vocabulary: every to_string and *_from_string reads
// the one table next to its enum (estimators.hpp, options.hpp, result.hpp).

#include <cstddef>
#include <stdexcept>
#include <string>

#include "gradcheck/estimators.hpp"
#include "gradcheck/options.hpp"
#include "gradcheck/result.hpp"

namespace gradcheck {

namespace {

template <class E, std::size_t N>
const char* name_of(E value, const char* const (&names)[N]) {
  const auto k = static_cast<std::size_t>(value);
  return k < N ? names[k] : "?";
}

template <class E, std::size_t N>
E value_of(const std::string& s, const char* const (&names)[N], const char* what) {
  for (std::size_t k = 0; k < N; ++k)
    if (s == names[k]) return static_cast<E>(k);
  throw std::invalid_argument(std::string("unknown ") + what + " '" + s + "'");
}

}  // namespace

const char* to_string(Dtype dtype) { return name_of(dtype, dtype_names); }
Dtype dtype_from_string(const std::string& s) { return value_of<Dtype>(s, dtype_names, "dtype"); }

const char* to_string(Method method) { return name_of(method, method_names); }
Method method_from_string(const std::string& s) { return value_of<Method>(s, method_names, "method"); }

const char* to_string(Mode mode) { return name_of(mode, mode_names); }
Mode mode_from_string(const std::string& s) { return value_of<Mode>(s, mode_names, "mode"); }

const char* to_string(Verdict v) { return name_of(v, verdict_names); }
Verdict verdict_from_string(const std::string& s) { return value_of<Verdict>(s, verdict_names, "verdict"); }

const char* to_string(HintKind k) { return name_of(k, hint_kind_names); }
HintKind hint_kind_from_string(const std::string& s) { return value_of<HintKind>(s, hint_kind_names, "hint kind"); }

const char* to_string(ProblemKind k) { return name_of(k, problem_kind_names); }
ProblemKind problem_kind_from_string(const std::string& s) {
  return value_of<ProblemKind>(s, problem_kind_names, "problem kind");
}

}  // namespace gradcheck
