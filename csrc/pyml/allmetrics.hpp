// Netdata's `/api/v1/allmetrics?format=json` answer, decoded for its values alone.
//
// A source polled every second answers the same charts with the same
// dimensions in the same order, each one second further:
//
//   {"system.cpu": {"name": ..., "last_updated": 1700000000,
//                   "dimensions": {"user": {"name": "user", "value": 1.25}, ...}}, ...}
//
// What a poll needs of such an answer is three flat things: each chart's
// `last_updated`, every dimension's value in the answer's order, and proof
// that the charts and dimensions are the ones it expects. The decoder scans
// the text once and writes exactly those: `last_updated` per chart, the values
// (NaN for `null` or a dimension without a value), and the *keys*, every
// chart id and dimension id in order with separators:
//
//   chart id, kChartEnd, (dimension id, kDimensionEnd)*, kChartClose   per chart
//
// The caller compares the keys with the ones it holds for the source, so an
// answer of another shape is never taken by position. Ids cannot hold the
// separators (raw control characters are not allowed inside JSON strings).
//
// The decoder is strict where that is cheap and falls back where it is not:
// anything outside the common shape (a string escape inside an id, a value
// that is not a number or null, a `last_updated` that is not an integer, a
// number beyond double range, nesting deeper than kMaxDepth, trailing bytes,
// malformed JSON) makes `decode_allmetrics_values` return false, and the
// caller decodes the answer with a general JSON decoder that names what is
// wrong. Members other than `last_updated`, `dimensions` and `value` are
// skipped (their strings are not checked for valid UTF-8: they are not kept).
// A missing `last_updated` is 0 and a missing `value` is NaN, as the general
// decoder's defaults are.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pyml {

inline constexpr char kChartEnd = '\x01';       // after a chart id in the keys
inline constexpr char kDimensionEnd = '\x02';   // after each dimension id
inline constexpr char kChartClose = '\x03';     // after a chart's last dimension
inline constexpr int kMaxDepth = 64;            // nesting allowed inside a skipped member

struct AllmetricsValues {
    std::vector<std::int64_t> last_updated;     // per chart, in the answer's order
    std::vector<double> values;                 // per dimension, flattened in the answer's order
    std::string keys;                           // see the head of this file

    void clear() noexcept {
        last_updated.clear();
        values.clear();
        keys.clear();
    }
};

// Decode `body` into `out` (cleared first). False when the answer is outside
// the common shape described above; `out` is then unspecified.
bool decode_allmetrics_values(std::string_view body, AllmetricsValues& out);

}  // namespace pyml
