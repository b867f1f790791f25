// Accumulating the open point of the first tier: one pass over a tick.
//
// The tiers (pyml/engine/tiers.py) keep, per slot, the open point of their
// first tier: the sum, minimum and maximum of the values collected in it,
// how many there were and how many of their words say "not anomalous".
// Every tick of every host adds its values and words to that point. In numpy
// that is eight passes over the slots, each a call of a microsecond or more
// and each a walk through arrays that a hundred other hosts pushed out of
// the caches since the last tick; here it is one pass.
//
// Per slot i < n, with v = values[i]:
//   - a value exists iff v is not NaN (a gap); only then does it count:
//     sum[i] += v (IEEE arithmetic: inf + -inf is NaN, which the tier saturates
//     when the point closes), count[i] += 1 (uint16, wrapping as numpy's unsafe cast);
//   - min[i] = fmin(min[i], v), max[i] = fmax(max[i], v): NaN stands for "none
//     yet" and a NaN value leaves them as they are; between equal values (0.0
//     and -0.0) the one held is kept;
//   - normal[i] += 1 iff words[i] has kAnomalyBit (set = normal; the empty
//     word of a gap has it clear).
// The numpy passes and this one give equal numbers; tests/test_tiers.py
// compares them on values with gaps, infinities and signed zeros.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pyml {

void accumulate_tier_point(const double* values, const std::uint32_t* words, std::size_t n, double* sum, double* min,
                           double* max, std::uint16_t* count, std::uint32_t* normal) noexcept;

}  // namespace pyml
