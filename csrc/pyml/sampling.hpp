// Sub-sampling of a training set, as Netdata 2.x picks the vectors it trains
// on (SPEC-NETDATA-2 §3.2).
//
// A table R of M 32-bit numbers (M = max training vectors) is the first M
// outputs of std::mt19937(seed). For E vectors, ratio = M / E when E > M,
// else 1; cutoff = (uint32)(4294967295.0 * ratio) (double product,
// truncated); vector j (0-based, oldest first) is kept iff
// R[j mod M] <= cutoff. About M vectors are kept, periodically: the same
// offsets in every block of M. Netdata seeds once per process from
// std::random_device; here the seed is a parameter so a training replays
// exactly. NumPy's RandomState(seed).randint(0, 2**32, size=M, dtype=uint32)
// gives the same table.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace pyml {

// Largest accepted max_vectors (the table costs 4 bytes per entry).
inline constexpr std::size_t kMaxTrainingVectors = std::size_t{1} << 24;

// The first m outputs of std::mt19937(seed).
std::vector<std::uint32_t> sampling_table(std::size_t m, std::uint32_t seed);

// (uint32)(4294967295.0 * ratio) with ratio = m / e if e > m, else 1.
std::uint32_t sampling_cutoff(std::size_t e, std::size_t m) noexcept;

// Whether vector j of e is kept: table[j % m] <= sampling_cutoff(e, m).
// table holds m >= 1 entries.
inline bool sample_kept(std::size_t j, const std::uint32_t* table, std::size_t m, std::uint32_t cutoff) noexcept {
    return table[j % m] <= cutoff;
}

// How many of e vectors are kept.
std::size_t sampled_count(std::size_t e, const std::uint32_t* table, std::size_t m) noexcept;

// The offsets i < m (ascending) with table[i] <= cutoff, into `out`
// (resized): vector j is kept iff j % m is one of them, so the kept vectors
// are block * m + offset for block = 0, 1, ... in that order, without a
// division per vector.
void kept_offsets(const std::uint32_t* table, std::size_t m, std::uint32_t cutoff, std::vector<std::uint32_t>& out);

}  // namespace pyml
