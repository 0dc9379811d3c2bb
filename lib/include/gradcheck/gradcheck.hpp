#pragma once
// Umbrella header: the gradient checker and its reports.

#include "gradcheck/check.hpp"
#include "gradcheck/errors.hpp"
#include "gradcheck/estimators.hpp"
#include "gradcheck/layout.hpp"
#include "gradcheck/options.hpp"
#include "gradcheck/report.hpp"
#include "gradcheck/result.hpp"
#include "gradcheck/version.hpp"
