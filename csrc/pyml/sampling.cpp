#include "pyml/sampling.hpp"

#include <random>

namespace pyml {

std::vector<std::uint32_t> sampling_table(std::size_t m, std::uint32_t seed) {
    std::mt19937 gen(seed);
    std::vector<std::uint32_t> table(m);
    for (auto& r : table) r = static_cast<std::uint32_t>(gen());
    return table;
}

std::uint32_t sampling_cutoff(std::size_t e, std::size_t m) noexcept {
    const double ratio = e > m ? static_cast<double>(m) / static_cast<double>(e) : 1.0;
    return static_cast<std::uint32_t>(4294967295.0 * ratio);
}

std::size_t sampled_count(std::size_t e, const std::uint32_t* table, std::size_t m) noexcept {
    if (e == 0 || m == 0) return 0;
    const std::uint32_t cutoff = sampling_cutoff(e, m);
    // Whole periods of m vectors keep the same offsets; then the partial one.
    std::size_t per_period = 0, partial = 0;
    const std::size_t rest = e % m;
    for (std::size_t i = 0; i < m; ++i) {
        const bool kept = table[i] <= cutoff;
        per_period += kept;
        if (i < rest) partial += kept;
    }
    return (e / m) * per_period + partial;
}

void kept_offsets(const std::uint32_t* table, std::size_t m, std::uint32_t cutoff, std::vector<std::uint32_t>& out) {
    out.clear();
    for (std::size_t i = 0; i < m; ++i)
        if (table[i] <= cutoff) out.push_back(static_cast<std::uint32_t>(i));
}

}  // namespace pyml
