#include "pyml/tier_point.hpp"

#include <cmath>

#include "pyml/storage_number.hpp"

namespace pyml {

void accumulate_tier_point(const double* values, const std::uint32_t* words, std::size_t n, double* sum, double* min,
                           double* max, std::uint16_t* count, std::uint32_t* normal) noexcept {
    // One scalar pass: about 1.1 ns per slot here with warm caches, against 4.2 for numpy's eight passes
    // (2,500 slots: 2.7 us, plus 2.3 for the call's seven arguments; numpy 10.6 us). Branch-free forms,
    // which the compiler did not vectorise either, measured no faster.
    for (std::size_t i = 0; i < n; ++i) {
        if (words[i] & kAnomalyBit) ++normal[i];  // the word says normal
        const double v = values[i];
        if (std::isnan(v)) continue;  // a gap
        sum[i] += v;
        count[i] = static_cast<std::uint16_t>(count[i] + 1u);
        if (std::isnan(min[i]) || v < min[i]) min[i] = v;  // NaN: none yet
        if (std::isnan(max[i]) || v > max[i]) max[i] = v;
    }
}

}  // namespace pyml
