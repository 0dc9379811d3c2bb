#include "functions.hpp"

#include <cmath>

namespace gradcheck::bench {

namespace {

// Each function is a struct with a template f<T> (T = float, double and their
// complex types; every constant is written T(...) so float stays float) and the
// derivative in long double. Constants are dyadic where the usual ones are not
// (1/8, 51/64, 183/4096) so all arithmetics compute the same function.

using ld = long double;

struct Cubic {
  static constexpr const char* name = "x^3 - 2x^2 + 3x - 1";
  static constexpr double lo = -3, hi = 3;
  template <class T> static T f(T x) { return ((x - T(2)) * x + T(3)) * x - T(1); }
  static ld df(ld x) { return (3 * x - 4) * x + 3; }
};

struct Quintic {
  static constexpr const char* name = "x^5/8 + x^3 + x + 1";
  static constexpr double lo = -2, hi = 2;
  template <class T> static T f(T x) {
    const T x2 = x * x;
    return ((T(0.125) * x2 + T(1)) * x2 + T(1)) * x + T(1);
  }
  static ld df(ld x) { return (ld(0.625) * x * x + 3) * x * x + 1; }
};

struct Exp {
  static constexpr const char* name = "exp(x)";
  static constexpr double lo = -5, hi = 5;
  template <class T> static T f(T x) { return std::exp(x); }
  static ld df(ld x) { return std::exp(x); }
};

struct ExpTenth {
  static constexpr const char* name = "exp(x/10)";
  static constexpr double lo = -40, hi = 40;
  template <class T> static T f(T x) { return std::exp(x / T(10)); }
  static ld df(ld x) { return std::exp(x / 10) / 10; }
};

struct Gaussian {
  static constexpr const char* name = "exp(-x^2)";
  static constexpr double lo = 0.3, hi = 2.5;
  template <class T> static T f(T x) { return std::exp(-(x * x)); }
  static ld df(ld x) { return -2 * x * std::exp(-x * x); }
};

struct Log {
  static constexpr const char* name = "log(x)";
  static constexpr double lo = 0.1, hi = 10;
  template <class T> static T f(T x) { return std::log(x); }
  static ld df(ld x) { return 1 / x; }
};

struct LogOnePlusSquare {
  static constexpr const char* name = "log(1 + x^2)";
  static constexpr double lo = 0.2, hi = 5;
  template <class T> static T f(T x) { return std::log(T(1) + x * x); }
  static ld df(ld x) { return 2 * x / (1 + x * x); }
};

struct Sin {
  static constexpr const char* name = "sin(x)";
  static constexpr double lo = -1.2, hi = 1.2;
  template <class T> static T f(T x) { return std::sin(x); }
  static ld df(ld x) { return std::cos(x); }
};

struct Cos {
  static constexpr const char* name = "cos(x)";
  static constexpr double lo = 0.3, hi = 2.8;
  template <class T> static T f(T x) { return std::cos(x); }
  static ld df(ld x) { return -std::sin(x); }
};

struct Tanh {
  static constexpr const char* name = "tanh(x)";
  static constexpr double lo = -3, hi = 3;
  template <class T> static T f(T x) { return std::tanh(x); }
  static ld df(ld x) {
    const ld t = std::tanh(x);
    return 1 - t * t;
  }
};

ld sigmoid(ld x) { return 1 / (1 + std::exp(-x)); }

struct Sigmoid {
  static constexpr const char* name = "sigmoid(x) = 1/(1 + exp(-x))";
  static constexpr double lo = -6, hi = 6;
  template <class T> static T f(T x) { return T(1) / (T(1) + std::exp(-x)); }
  static ld df(ld x) { return sigmoid(x) * (1 - sigmoid(x)); }
};

struct Softplus {
  static constexpr const char* name = "softplus(x) = log(1 + exp(x))";
  static constexpr double lo = -6, hi = 6;
  template <class T> static T f(T x) { return std::log(T(1) + std::exp(x)); }
  static ld df(ld x) { return sigmoid(x); }
};

struct LogSigmoid {
  static constexpr const char* name = "log sigmoid(x) = -log(1 + exp(-x))";
  static constexpr double lo = -6, hi = 6;
  template <class T> static T f(T x) { return -std::log(T(1) + std::exp(-x)); }
  static ld df(ld x) { return 1 / (1 + std::exp(x)); }
};

struct Silu {
  static constexpr const char* name = "silu(x) = x sigmoid(x)";
  static constexpr double lo = -0.8, hi = 5;
  template <class T> static T f(T x) { return x / (T(1) + std::exp(-x)); }
  static ld df(ld x) { return sigmoid(x) * (1 + x * (1 - sigmoid(x))); }
};

struct Gelu {
  static constexpr const char* name = "gelu(x) = x/2 (1 + tanh(51/64 (x + 183/4096 x^3)))";
  static constexpr double lo = -0.5, hi = 4;
  static constexpr double c = 51.0 / 64, a = 183.0 / 4096;
  template <class T> static T f(T x) { return T(0.5) * x * (T(1) + std::tanh(T(c) * (x + T(a) * x * x * x))); }
  static ld df(ld x) {
    const ld t = std::tanh(c * (x + a * x * x * x));
    return (1 + t) / 2 + x / 2 * (1 - t * t) * c * (1 + 3 * a * x * x);
  }
};

struct Lorentzian {
  static constexpr const char* name = "1/(1 + x^2)";
  static constexpr double lo = 0.2, hi = 4;
  template <class T> static T f(T x) { return T(1) / (T(1) + x * x); }
  static ld df(ld x) {
    const ld d = 1 + x * x;
    return -2 * x / (d * d);
  }
};

struct Moebius {
  static constexpr const char* name = "(1 + 2x)/(3 + x)";
  static constexpr double lo = -2, hi = 5;
  template <class T> static T f(T x) { return (T(1) + T(2) * x) / (T(3) + x); }
  static ld df(ld x) { return 5 / ((3 + x) * (3 + x)); }
};

struct CubicOverQuadratic {
  static constexpr const char* name = "x^3/(1 + x^2)";
  static constexpr double lo = 0.3, hi = 5;
  template <class T> static T f(T x) { return x * x * x / (T(1) + x * x); }
  static ld df(ld x) {
    const ld d = 1 + x * x;
    return x * x * (x * x + 3) / (d * d);
  }
};

struct Reciprocal {
  static constexpr const char* name = "1/x";
  static constexpr double lo = 0.2, hi = 20;
  template <class T> static T f(T x) { return T(1) / x; }
  static ld df(ld x) { return -1 / (x * x); }
};

struct Hypot {
  static constexpr const char* name = "sqrt(1 + x^2)";
  static constexpr double lo = 0.3, hi = 5;
  template <class T> static T f(T x) { return std::sqrt(T(1) + x * x); }
  static ld df(ld x) { return x / std::sqrt(1 + x * x); }
};

struct Sqrt {
  static constexpr const char* name = "sqrt(x)";
  static constexpr double lo = 0.5, hi = 500;
  template <class T> static T f(T x) { return std::sqrt(x); }
  static ld df(ld x) { return 1 / (2 * std::sqrt(x)); }
};

struct Atan {
  static constexpr const char* name = "atan(x)";
  static constexpr double lo = -4, hi = 4;
  template <class T> static T f(T x) { return std::atan(x); }
  static ld df(ld x) { return 1 / (1 + x * x); }
};

struct SinOfExp {
  static constexpr const char* name = "sin(exp(x))";
  static constexpr double lo = -2, hi = 0.4;
  template <class T> static T f(T x) { return std::sin(std::exp(x)); }
  static ld df(ld x) { return std::cos(std::exp(x)) * std::exp(x); }
};

struct ExpOfSin {
  static constexpr const char* name = "exp(sin(x))";
  static constexpr double lo = -1.2, hi = 1.2;
  template <class T> static T f(T x) { return std::exp(std::sin(x)); }
  static ld df(ld x) { return std::cos(x) * std::exp(std::sin(x)); }
};

struct LogCosh {
  static constexpr const char* name = "log(cosh(x))";
  static constexpr double lo = 0.3, hi = 4;
  template <class T> static T f(T x) { return std::log(std::cosh(x)); }
  static ld df(ld x) { return std::tanh(x); }
};

struct ExpSin {
  static constexpr const char* name = "exp(x) sin(x)";
  static constexpr double lo = -0.5, hi = 2;
  template <class T> static T f(T x) { return std::exp(x) * std::sin(x); }
  static ld df(ld x) { return std::exp(x) * (std::sin(x) + std::cos(x)); }
};

template <class F>
TestFunction make() {
  TestFunction t;
  t.name = F::name;
  t.lo = F::lo;
  t.hi = F::hi;
  t.f32 = &F::template f<float>;
  t.f64 = &F::template f<double>;
  t.c32 = &F::template f<std::complex<float>>;
  t.c64 = &F::template f<std::complex<double>>;
  t.derivative = &F::df;
  return t;
}

}  // namespace

const std::vector<TestFunction>& test_functions() {
  static const std::vector<TestFunction> all = {
      make<Cubic>(),      make<Quintic>(),   make<Reciprocal>(), make<Lorentzian>(), make<Moebius>(),
      make<CubicOverQuadratic>(), make<Exp>(), make<ExpTenth>(), make<Gaussian>(),  make<Log>(),
      make<LogOnePlusSquare>(), make<Sqrt>(), make<Hypot>(),     make<Sin>(),        make<Cos>(),
      make<Atan>(),       make<Tanh>(),      make<Sigmoid>(),    make<Softplus>(),   make<LogSigmoid>(),
      make<Silu>(),       make<Gelu>(),      make<SinOfExp>(),   make<ExpOfSin>(),   make<LogCosh>(),
      make<ExpSin>(),
  };
  return all;
}

double test_point(const TestFunction& fn, int j, int n) {
  return fn.lo + (j + 0.5) * (fn.hi - fn.lo) / n;
}

}  // namespace gradcheck::bench
