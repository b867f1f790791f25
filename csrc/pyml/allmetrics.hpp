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
//
// A poll's answer is, byte for byte, the previous poll's with other numbers:
// names, families, units and the indentation do not change from one second
// to the next. So the scan can also *learn* an answer (AllmetricsLayout): its
// text with every `last_updated` and `value` token cut out, and where each one
// was cut. `decode_allmetrics_like` then reads the next answer by comparing
// the text between two tokens with memcmp and parsing only the tokens: about
// four times less work than the scan, which looks at every byte. An answer
// that differs anywhere outside those tokens (another name, a member more, a
// value that became a string) is refused, and the caller scans it and learns
// it again; since the text around the tokens is the learned one, the keys are
// the learned keys and the document is valid JSON of the same shape.
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

// An answer learned for `decode_allmetrics_like` (see the head of this file).
struct AllmetricsLayout {
    enum Token : unsigned char { kLastUpdated = 0, kValue = 1 };

    std::string text;                    // the answer without its tokens
    std::vector<std::uint32_t> cuts;     // where each token was cut out of `text`, ascending
    std::vector<unsigned char> tokens;   // the Token of each cut
    std::string keys;                    // the learned answer's keys
    std::size_t charts = 0, dimensions = 0;

    bool empty() const noexcept { return text.empty(); }
    void clear() noexcept {
        text.clear();
        cuts.clear();
        tokens.clear();
        keys.clear();
        charts = dimensions = 0;
    }
};

// Decode `body` into `out` (cleared first). False when the answer is outside
// the common shape described above; `out` is then unspecified. With `learn`,
// an answer read is also learned into it (cleared first; unspecified on false;
// left empty when a chart lacks its last_updated or a dimension its value).
bool decode_allmetrics_values(std::string_view body, AllmetricsValues& out, AllmetricsLayout* learn = nullptr);

// Decode `body` as an answer equal to the one `layout` learned outside its
// `last_updated` and `value` tokens: `out` gets the last_updated and values
// as decode_allmetrics_values would read them (its keys are left empty: they
// are the layout's). False
// when the text differs or a token is not what the scan accepts there (`out`
// unspecified): the caller then scans the answer.
bool decode_allmetrics_like(std::string_view body, const AllmetricsLayout& layout, AllmetricsValues& out);

// One source's decoder: each answer is read against the one learned last
// (decode_allmetrics_like) and scanned, and learned, when that fails.
//
// Learning costs about half a scan on top of the scan. A source whose answers
// differ outside their tokens every time would pay it on every poll and never
// gain, so a layout replaced before any answer was read against it counts as
// unused, and after two unused layouts in a row the decoder scans without
// learning 2, 4, ... up to kMaxLearningPause times before it learns again; an
// answer read against a layout ends the pause for good.
class AllmetricsDecoder {
public:
    static constexpr std::uint32_t kMaxLearningPause = 64;

    // Decode `body`: true when it is read (either way) and its keys equal
    // `expected_keys`; values() then holds its last_updated and values.
    bool decode(std::string_view body, std::string_view expected_keys);

    const AllmetricsValues& values() const noexcept { return decoded_; }
    bool learned() const noexcept { return !layout_.empty(); }
    std::uint64_t compared() const noexcept { return compared_; }     // answers read against a layout
    std::uint64_t scanned() const noexcept { return scanned_; }       // answers scanned
    std::uint64_t learnings() const noexcept { return learnings_; }   // layouts learned

private:
    AllmetricsLayout layout_;
    AllmetricsValues decoded_;
    std::uint64_t compared_ = 0, scanned_ = 0, learnings_ = 0;
    std::uint32_t unused_ = 0;   // layouts in a row replaced before any answer was read against them
    std::uint32_t pause_ = 0;    // scans left before the next learning
    bool used_ = false;          // whether an answer was read against the current layout
};

}  // namespace pyml
