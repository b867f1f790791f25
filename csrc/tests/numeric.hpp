// Small helpers the C++ tests share: NaN and infinity, comparing doubles bit
// for bit (the bank's results must equal their references exactly, -0.0 and
// NaN payloads included), and every bank kernel this CPU can run, so a test
// loops over them and checks each against the same reference.
#pragma once

#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "pyml/bank.hpp"

namespace testutil {

inline const double kNaN = std::numeric_limits<double>::quiet_NaN();
inline const double kInf = std::numeric_limits<double>::infinity();

// The IEEE-754 bits of x.
inline std::uint64_t bits_of(double x) {
    std::uint64_t u;
    std::memcpy(&u, &x, sizeof u);
    return u;
}

// Whether a and b are the same double, bit for bit.
inline bool same(double a, double b) { return bits_of(a) == bits_of(b); }

// The baseline kernel, then every faster one this CPU supports.
inline std::vector<pyml::BankKernel> kernels() {
    std::vector<pyml::BankKernel> out = {pyml::BankKernel::baseline};
    if (pyml::bank_avx2_available()) out.push_back(pyml::BankKernel::avx2);
    return out;
}

}  // namespace testutil
