// gradcheck._core: the C++ checker for Python callables. The Python package
// (python/gradcheck) is the interface users call; this module converts arrays
// and options and runs gradcheck::check_* on the calling thread.
//
// Python callables are called with the GIL held, one call at a time: a check
// from Python always runs on one thread (CheckOptions::threads = 1), so its
// results are those of the C++ library with the same options and seed.

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "gradcheck/check.hpp"
#include "gradcheck/diag/render.hpp"
#include "gradcheck/diag/report.hpp"
#include "gradcheck/errors.hpp"
#include "gradcheck/output.hpp"
#include "gradcheck/report.hpp"
#include "gradcheck/weights/checkpoint.hpp"
#include "gradcheck/weights/render.hpp"
#include "gradcheck/weights/report.hpp"

namespace py = pybind11;

namespace {

using gradcheck::CheckOptions;
using gradcheck::CheckResult;
using gradcheck::Layout;

template <class T>
using Vector = gradcheck::Vector<T>;
template <class T>
using Matrix = gradcheck::Matrix<T>;

// A flat copy of x as a NumPy array of T.
template <class T>
py::array_t<T> to_numpy(const Vector<T>& x) {
  py::array_t<T> a(static_cast<py::ssize_t>(x.size()));
  std::copy(x.data(), x.data() + x.size(), a.mutable_data());
  return a;
}

// What a callable returned, as a flat vector of T; `what` names it in errors.
template <class T>
Vector<T> to_vector(const py::handle& h, const char* what) {
  auto a = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(h);
  if (!a) throw py::type_error(std::string(what) + " must return an array of numbers");
  Vector<T> v(static_cast<Eigen::Index>(a.size()));
  std::copy(a.data(), a.data() + a.size(), v.data());
  return v;
}

double to_double(const py::handle& h, const char* what) {
  try {
    return py::cast<double>(py::float_(py::reinterpret_borrow<py::object>(h)));
  } catch (const py::error_already_set&) {
    throw py::type_error(std::string(what) + " must return a number");
  }
}

Layout make_layout(const std::vector<std::pair<std::string, std::vector<std::int64_t>>>& blocks) {
  Layout layout;
  for (const auto& [name, shape] : blocks) layout.add(name, shape);
  return layout;
}

// CheckOptions from the keyword arguments the Python API accepts (names as the
// C++ fields; mode and method as their report names).
CheckOptions make_options(const py::dict& kw) {
  CheckOptions o;
  for (const auto& [key, value] : kw) {
    const auto k = py::cast<std::string>(key);
    if (k == "mode") o.mode = gradcheck::mode_from_string(py::cast<std::string>(value));
    else if (k == "method") o.method = gradcheck::method_from_string(py::cast<std::string>(value));
    else if (k == "relative_step") o.relative_step = py::cast<double>(value);
    else if (k == "rtol") o.rtol = py::cast<double>(value);
    else if (k == "atol") o.atol = py::cast<double>(value);
    else if (k == "safety") o.safety = py::cast<double>(value);
    else if (k == "max_per_block") o.max_per_block = py::cast<std::int64_t>(value);
    else if (k == "seed") o.seed = py::cast<std::uint64_t>(value);
    else if (k == "worst_entries") o.worst_entries = py::cast<int>(value);
    else if (k == "batch_size") o.batch_size = py::cast<std::int64_t>(value);
    else if (k == "check_reentrancy") o.check_reentrancy = py::cast<bool>(value);
    else if (k == "directions") o.directions = py::cast<int>(value);
    else if (k == "localize_max") o.localize_max = py::cast<int>(value);
    else if (k == "early_rows") o.early_rows = py::cast<int>(value);
    else if (k == "quick_precision") o.quick_precision = py::cast<double>(value);
    else if (k == "inconclusive_ratio") o.inconclusive_ratio = py::cast<double>(value);
    else if (k == "scale_sigmas") o.scale_sigmas = py::cast<double>(value);
    else if (k == "consistency_sd") o.consistency_sd = py::cast<double>(value);
    else if (k == "consistency_min_entries") o.consistency_min_entries = py::cast<std::int64_t>(value);
    else throw py::type_error("unknown option '" + k + "'");
  }
  if (o.method == gradcheck::Method::complex_step)
    throw py::value_error("method 'complex_step' needs a function of complex arrays; it is not available from Python");
  o.threads = 1;
  std::string error;
  if (!o.is_valid(&error)) throw py::value_error(error);
  return o;
}

template <class T>
CheckResult gradient(py::function f, py::function g, const Vector<T>& x, const Layout& layout, const CheckOptions& o) {
  auto value = [f](const Vector<T>& v) -> double { return to_double(f(to_numpy(v)), "f"); };
  auto grad = [g](const Vector<T>& v) -> Vector<T> { return to_vector<T>(g(to_numpy(v)), "grad"); };
  return gradcheck::check_gradient<T>(value, grad, x, layout, o);
}

template <class T>
CheckResult loss(py::function fg, const Vector<T>& x, const Layout& layout, const CheckOptions& o) {
  // fg(x) -> (loss, gradient)
  auto call = [fg, n = x.size()](const Vector<T>& v, Vector<T>* grad) -> double {
    py::object r = fg(to_numpy(v));
    py::tuple t = py::reinterpret_borrow<py::object>(r).cast<py::tuple>();
    if (t.size() != 2) throw py::type_error("fg must return (loss, gradient)");
    const double value = to_double(t[0], "fg's loss");
    if (grad != nullptr) {
      *grad = to_vector<T>(t[1], "fg's gradient");
      if (grad->size() != n) throw py::value_error("fg's gradient has " + std::to_string(grad->size()) +
                                                   " values; the parameters have " + std::to_string(n));
    }
    return value;
  };
  return gradcheck::check_loss<T>(call, x, layout, o);
}

template <class T>
CheckResult jacobian(py::function f, py::function jac, const Vector<T>& x, const Layout& layout,
                     const CheckOptions& o) {
  auto value = [f](const Vector<T>& v) -> Vector<T> { return to_vector<T>(f(to_numpy(v)), "f"); };
  auto jacob = [jac, n = x.size()](const Vector<T>& v) -> Matrix<T> {
    auto a = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(jac(to_numpy(v)));
    if (!a || a.ndim() != 2 || a.shape(1) != n)
      throw py::value_error("jacobian must return an m x " + std::to_string(n) + " array");
    Matrix<T> m(a.shape(0), a.shape(1));
    for (py::ssize_t i = 0; i < a.shape(0); ++i)
      for (py::ssize_t j = 0; j < a.shape(1); ++j) m(i, j) = a.at(i, j);
    return m;
  };
  return gradcheck::check_jacobian<T>(value, jacob, x, layout, o);
}

template <class T>
CheckResult layer(py::function forward, py::function backward, const Vector<T>& x, const Layout& layout,
                  const CheckOptions& o) {
  auto fwd = [forward](const Vector<T>& v) -> Vector<T> { return to_vector<T>(forward(to_numpy(v)), "forward"); };
  auto bwd = [backward, n = x.size()](const Vector<T>& v, const Vector<T>& dy) -> Vector<T> {
    Vector<T> dx = to_vector<T>(backward(to_numpy(v), to_numpy(dy)), "backward");
    if (dx.size() != n) throw py::value_error("backward returned " + std::to_string(dx.size()) +
                                              " values; the inputs have " + std::to_string(n));
    return dx;
  };
  return gradcheck::check_layer<T>(fwd, bwd, x, layout, o);
}

// Binds one check for both dtypes: the NumPy array's dtype chooses.
template <class Run32, class Run64>
CheckResult dispatch(const py::array& x, const std::vector<std::pair<std::string, std::vector<std::int64_t>>>& blocks,
                     const py::dict& kw, Run32 run32, Run64 run64) {
  const Layout layout = make_layout(blocks);
  const CheckOptions o = make_options(kw);
  if (x.dtype().is(py::dtype::of<float>())) {
    auto a = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(x);
    Vector<float> v = Eigen::Map<const Vector<float>>(a.data(), a.size());
    return run32(v, layout, o);
  }
  auto a = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(x);
  Vector<double> v = Eigen::Map<const Vector<double>>(a.data(), a.size());
  return run64(v, layout, o);
}

using Blocks = std::vector<std::pair<std::string, std::vector<std::int64_t>>>;

// A report in its three shapes, for the Python side's Report (a dict of the JSON).
struct Rendered {
  std::string json, text, html;
  int exit_code = 0;
};

Rendered weights_report(const std::vector<std::string>& paths, bool spectral, const std::string& filter, int threads) {
  namespace w = gradcheck::weights;
  w::ReportOptions options;
  options.spectral = spectral;
  options.filter = filter;
  options.threads = threads;
  w::WeightsReport report;
  {
    py::gil_scoped_release unlocked;
    w::Checkpoint all;
    for (const auto& p : paths) all.append(w::open_checkpoint(p));
    report = w::report_checkpoint(all, options);
  }
  return {w::to_json(report), w::to_text(report), w::to_html(report, options.thresholds),
          static_cast<int>(w::exit_code(report))};
}

// weightstats --diff BEFORE AFTER (no FILE): AFTER described, then the diff.
Rendered weights_diff(const std::string& before_path, const std::string& after_path, const std::string& filter,
                      int threads) {
  namespace w = gradcheck::weights;
  w::ReportOptions options;
  options.filter = filter;
  options.threads = threads;
  w::WeightsReport report;
  {
    py::gil_scoped_release unlocked;
    const w::Checkpoint before = w::open_checkpoint(before_path);
    const w::Checkpoint after = w::open_checkpoint(after_path);
    report = w::report_checkpoint(after, options);
    w::add_diff(report, before, after, options);
  }
  return {w::to_json(report), w::to_text(report), w::to_html(report, options.thresholds),
          static_cast<int>(w::exit_code(report))};
}

Rendered diagnose_logs(const std::vector<std::string>& paths, int classes, bool from_scratch, bool pretrained,
                       int threads) {
  namespace d = gradcheck::diag;
  d::DiagnoseOptions options;
  options.classes = classes;
  options.from_scratch = from_scratch;
  options.pretrained = pretrained;
  d::Report report;
  {
    py::gil_scoped_release unlocked;
    report = d::diagnose_sources(paths, {}, options, threads, /*keep_logs=*/true);
  }
  return {d::to_json(report), d::to_text(report), d::to_html(report), static_cast<int>(d::exit_code(report))};
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "gradcheck's C++ checker (use the gradcheck package, not this module)";

  // A file that cannot be read or is malformed: the message names the file and the reason.
  py::register_exception<gradcheck::InputError>(m, "InputError", PyExc_ValueError);

  py::class_<Rendered>(m, "Rendered")
      .def_readonly("json", &Rendered::json)
      .def_readonly("text", &Rendered::text)
      .def_readonly("html", &Rendered::html)
      .def_readonly("exit_code", &Rendered::exit_code);
  m.def("weights_report", &weights_report, py::arg("paths"), py::arg("spectral"), py::arg("filter"), py::arg("threads"));
  m.def("weights_diff", &weights_diff, py::arg("before"), py::arg("after"), py::arg("filter"), py::arg("threads"));
  m.def("diagnose_logs", &diagnose_logs, py::arg("paths"), py::arg("classes"), py::arg("from_scratch"),
        py::arg("pretrained"), py::arg("threads"));

  py::class_<CheckResult>(m, "CheckResult")
      .def_property_readonly("passed", [](const CheckResult& r) { return r.passed; })
      .def_property_readonly("verdict", [](const CheckResult& r) { return std::string(to_string(r.verdict)); })
      .def_property_readonly("evaluations", [](const CheckResult& r) { return r.evaluations; })
      .def("to_text", [](const CheckResult& r, bool color, bool quiet, int worst) {
             gradcheck::TextOptions t;
             t.color = color;
             t.quiet = quiet;
             t.worst_entries = worst;
             return gradcheck::to_text(r, t);
           },
           py::arg("color") = false, py::arg("quiet") = false, py::arg("worst_entries") = 5)
      .def("to_json", [](const CheckResult& r) { return gradcheck::to_json(r); })
      .def("to_html", [](const CheckResult& r) { return gradcheck::to_html(r); })
      .def("verdict_line", [](const CheckResult& r) { return gradcheck::verdict_line(r); })
      .def("exit_code", [](const CheckResult& r) { return static_cast<int>(gradcheck::exit_code(r)); });

  m.def("check_gradient", [](py::function f, py::function g, const py::array& x, const Blocks& blocks, const py::dict& kw) {
    return dispatch(x, blocks, kw,
                    [&](const Vector<float>& v, const Layout& l, const CheckOptions& o) { return gradient<float>(f, g, v, l, o); },
                    [&](const Vector<double>& v, const Layout& l, const CheckOptions& o) { return gradient<double>(f, g, v, l, o); });
  });
  m.def("check_loss", [](py::function fg, const py::array& x, const Blocks& blocks, const py::dict& kw) {
    return dispatch(x, blocks, kw,
                    [&](const Vector<float>& v, const Layout& l, const CheckOptions& o) { return loss<float>(fg, v, l, o); },
                    [&](const Vector<double>& v, const Layout& l, const CheckOptions& o) { return loss<double>(fg, v, l, o); });
  });
  m.def("check_jacobian", [](py::function f, py::function jac, const py::array& x, const Blocks& blocks, const py::dict& kw) {
    return dispatch(x, blocks, kw,
                    [&](const Vector<float>& v, const Layout& l, const CheckOptions& o) { return jacobian<float>(f, jac, v, l, o); },
                    [&](const Vector<double>& v, const Layout& l, const CheckOptions& o) { return jacobian<double>(f, jac, v, l, o); });
  });
  m.def("check_layer", [](py::function fwd, py::function bwd, const py::array& x, const Blocks& blocks, const py::dict& kw) {
    return dispatch(x, blocks, kw,
                    [&](const Vector<float>& v, const Layout& l, const CheckOptions& o) { return layer<float>(fwd, bwd, v, l, o); },
                    [&](const Vector<double>& v, const Layout& l, const CheckOptions& o) { return layer<double>(fwd, bwd, v, l, o); });
  });
}
