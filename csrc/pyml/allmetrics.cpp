// A one-pass scanner of Netdata's allmetrics JSON (see allmetrics.hpp).
#include "allmetrics.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <system_error>

namespace pyml {
namespace {

// Byte classes, one table lookup per byte in the two loops that see most bytes.
enum : unsigned char { kOther = 0, kSpace = 1, kStringStop = 2 };

struct ByteClasses {
    unsigned char of[256] = {};
    constexpr ByteClasses() {
        for (int c = 0; c < 0x20; ++c) of[c] = kStringStop;     // not allowed raw inside a string
        of[static_cast<unsigned char>('"')] = kStringStop;
        of[static_cast<unsigned char>('\\')] = kStringStop;
        of[static_cast<unsigned char>(' ')] = kSpace;
        of[static_cast<unsigned char>('\t')] = kSpace | kStringStop;
        of[static_cast<unsigned char>('\n')] = kSpace | kStringStop;
        of[static_cast<unsigned char>('\r')] = kSpace | kStringStop;
    }
};

constexpr ByteClasses kBytes{};

inline unsigned char byte_class(char c) noexcept { return kBytes.of[static_cast<unsigned char>(c)]; }

// A token's place in the text being learned.
struct Span {
    const char* begin;
    const char* end;
    unsigned char token;
};

class Scanner {
public:
    Scanner(std::string_view text, AllmetricsValues& out, std::vector<Span>* spans = nullptr)
        : p_(text.data()), end_(text.data() + text.size()), out_(out), spans_(spans) {}

    // The answer read against a learned layout (decode_allmetrics_like).
    bool like(const AllmetricsLayout& layout) {
        const char* text = layout.text.data();
        std::size_t at = 0;
        out_.last_updated.reserve(layout.charts);
        out_.values.reserve(layout.dimensions);
        for (std::size_t i = 0; i < layout.cuts.size(); ++i) {
            const std::size_t n = layout.cuts[i] - at;
            if (static_cast<std::size_t>(end_ - p_) < n || std::memcmp(p_, text + at, n) != 0) return false;
            p_ += n;
            at = layout.cuts[i];
            if (layout.tokens[i] == AllmetricsLayout::kValue) {
                double value;
                if (!number_or_null(value)) return false;
                out_.values.push_back(value);
            } else {
                std::int64_t last_updated;
                if (!integer(last_updated)) return false;
                out_.last_updated.push_back(last_updated);
            }
        }
        const std::size_t n = layout.text.size() - at;
        return static_cast<std::size_t>(end_ - p_) == n && std::memcmp(p_, text + at, n) == 0 &&
               out_.last_updated.size() == layout.charts && out_.values.size() == layout.dimensions;
    }

    bool document() {
        skip_space();
        const bool read = object([this](std::string_view id) {
            out_.keys.append(id);
            out_.keys.push_back(kChartEnd);
            if (!chart()) return false;
            out_.keys.push_back(kChartClose);
            return true;
        });
        return read && at_end();
    }

private:
    const char* p_;
    const char* end_;
    AllmetricsValues& out_;
    std::vector<Span>* spans_;   // the tokens' places, when learning

    void mark(const char* begin, unsigned char token) {
        if (spans_) spans_->push_back(Span{begin, p_, token});
    }

    // An integer token (a last_updated).
    bool integer(std::int64_t& value) noexcept {
        const char* start;
        bool integral;
        if (!number_token(start, integral) || !integral) return false;
        const auto got = std::from_chars(start, p_, value);
        return got.ec == std::errc() && got.ptr == p_;
    }

    void skip_space() noexcept {
        while (p_ < end_ && (byte_class(*p_) & kSpace)) ++p_;
    }

    bool eat(char c) noexcept {
        if (p_ < end_ && *p_ == c) {
            ++p_;
            return true;
        }
        return false;
    }

    bool at_end() noexcept {
        skip_space();
        return p_ == end_;
    }

    bool colon() noexcept {
        skip_space();
        if (!eat(':')) return false;
        skip_space();
        return true;
    }

    // A string without escapes (an id or a member name): its raw bytes.
    bool plain_string(std::string_view& text) noexcept {
        if (!eat('"')) return false;
        const char* start = p_;
        while (p_ < end_ && !(byte_class(*p_) & kStringStop)) ++p_;
        if (p_ >= end_ || *p_ != '"') return false;    // an escape, a control character or the end
        text = std::string_view(start, static_cast<std::size_t>(p_ - start));
        ++p_;
        return true;
    }

    // Any string, escapes allowed (a skipped member's value).
    bool skip_string() noexcept {
        if (!eat('"')) return false;
        while (p_ < end_) {
            while (p_ < end_ && !(byte_class(*p_) & kStringStop)) ++p_;
            if (p_ >= end_) return false;
            const unsigned char c = static_cast<unsigned char>(*p_++);
            if (c == '"') return true;
            if (c < 0x20) return false;
            if (c == '\\') {
                if (p_ >= end_) return false;
                const char e = *p_++;
                if (e == 'u') {
                    for (int i = 0; i < 4; ++i, ++p_) {
                        if (p_ >= end_) return false;
                        const char h = *p_;
                        const bool hex = (h >= '0' && h <= '9') || (h >= 'a' && h <= 'f') || (h >= 'A' && h <= 'F');
                        if (!hex) return false;
                    }
                } else if (e != '"' && e != '\\' && e != '/' && e != 'b' && e != 'f' && e != 'n' && e != 'r' &&
                           e != 't') {
                    return false;
                }
            }
        }
        return false;
    }

    // A JSON number token: [start, p_) afterwards; `integer` when it has no fraction or exponent.
    bool number_token(const char*& start, bool& integer) noexcept {
        start = p_;
        integer = true;
        eat('-');
        if (p_ >= end_) return false;
        if (*p_ == '0') {
            ++p_;
        } else if (*p_ >= '1' && *p_ <= '9') {
            while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
        } else {
            return false;
        }
        if (p_ < end_ && *p_ == '.') {
            integer = false;
            ++p_;
            const char* digits = p_;
            while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
            if (p_ == digits) return false;
        }
        if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
            integer = false;
            ++p_;
            if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
            const char* digits = p_;
            while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
            if (p_ == digits) return false;
        }
        return true;
    }

    bool literal(std::string_view word) noexcept {
        if (static_cast<std::size_t>(end_ - p_) < word.size() || std::string_view(p_, word.size()) != word) return false;
        p_ += word.size();
        return true;
    }

    bool skip_value(int depth) noexcept {
        if (p_ >= end_) return false;
        switch (*p_) {
            case '"':
                return skip_string();
            case '{':
            case '[': {
                if (depth >= kMaxDepth) return false;
                const char close = *p_ == '{' ? '}' : ']';
                const bool object = close == '}';
                ++p_;
                skip_space();
                if (eat(close)) return true;
                for (;;) {
                    if (object && (!skip_string() || !colon())) return false;
                    if (!skip_value(depth + 1)) return false;
                    skip_space();
                    if (eat(',')) {
                        skip_space();
                        continue;
                    }
                    return eat(close);
                }
            }
            case 't':
                return literal("true");
            case 'f':
                return literal("false");
            case 'n':
                return literal("null");
            default: {
                const char* start;
                bool integer;
                return number_token(start, integer);
            }
        }
    }

    // An object whose member names are plain strings: '{', then for each member its name, ':' and
    // what member(name) reads, ',' between them, '}'.
    template <class Member>
    bool object(Member&& member) {
        if (!eat('{')) return false;
        skip_space();
        if (eat('}')) return true;
        for (;;) {
            std::string_view name;
            if (!plain_string(name) || !colon() || !member(name)) return false;
            skip_space();
            if (eat(',')) {
                skip_space();
                continue;
            }
            return eat('}');
        }
    }

    // One chart's object: its last_updated, and its dimensions' ids and values.
    bool chart() {
        std::int64_t last_updated = 0;
        bool seen_updated = false, seen_dimensions = false;
        const bool read = object([&](std::string_view name) {
            if (name == "last_updated") {
                if (seen_updated) return false;
                seen_updated = true;
                const char* start = p_;
                if (!integer(last_updated)) return false;
                mark(start, AllmetricsLayout::kLastUpdated);
                return true;
            }
            if (name == "dimensions") {
                if (seen_dimensions) return false;
                seen_dimensions = true;
                return object([this](std::string_view id) {
                    out_.keys.append(id);
                    out_.keys.push_back(kDimensionEnd);
                    return dimension();
                });
            }
            return skip_value(1);
        });
        if (!read) return false;
        out_.last_updated.push_back(last_updated);
        return true;
    }

    // One dimension's object: its value (NaN for null or none).
    bool dimension() {
        double value = std::numeric_limits<double>::quiet_NaN();
        bool seen_value = false;
        const bool read = object([&](std::string_view name) {
            if (name != "value") return skip_value(2);
            if (seen_value) return false;
            seen_value = true;
            const char* start = p_;
            if (!number_or_null(value)) return false;
            mark(start, AllmetricsLayout::kValue);
            return true;
        });
        if (!read) return false;
        out_.values.push_back(value);
        return true;
    }

    bool number_or_null(double& value) noexcept {
        if (p_ < end_ && *p_ == 'n') {
            value = std::numeric_limits<double>::quiet_NaN();
            return literal("null");
        }
        const char* start = p_;
        if (exact_decimal(value)) return true;
        p_ = start;
        bool integer;
        if (!number_token(start, integer)) return false;
        const auto got = std::from_chars(start, p_, value);
        return got.ec == std::errc() && got.ptr == p_ && std::isfinite(value);
    }

    // The common number (at most 19 significant digits, a value below 2^53 scaled by at most 10^22, no
    // exponent part) read in one pass: a double times or divided by an exact power of ten is correctly
    // rounded (Clinger's fast path), so this equals from_chars. False (p_ unspecified) otherwise.
    bool exact_decimal(double& value) noexcept {
        static constexpr double kPowers[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                             1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
        const bool negative = eat('-');
        std::uint64_t mantissa = 0;
        int digits = 0, fraction = 0;
        if (p_ >= end_) return false;
        if (*p_ == '0') {
            ++p_;
        } else {
            while (p_ < end_ && *p_ >= '0' && *p_ <= '9') {
                mantissa = mantissa * 10 + static_cast<std::uint64_t>(*p_++ - '0');
                if (++digits > 19) return false;
            }
            if (digits == 0) return false;
        }
        if (p_ < end_ && *p_ == '.') {
            ++p_;
            const char* first = p_;
            while (p_ < end_ && *p_ >= '0' && *p_ <= '9') {
                mantissa = mantissa * 10 + static_cast<std::uint64_t>(*p_++ - '0');
                if (mantissa != 0 && ++digits > 19) return false;
            }
            fraction = static_cast<int>(p_ - first);
            if (fraction == 0 || fraction > 22) return false;
        }
        if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) return false;
        if (mantissa > (std::uint64_t{1} << 53)) return false;
        const double magnitude = static_cast<double>(mantissa) / kPowers[fraction];
        value = negative ? -magnitude : magnitude;
        return true;
    }
};

}  // namespace

bool decode_allmetrics_values(std::string_view body, AllmetricsValues& out, AllmetricsLayout* learn) {
    out.clear();
    if (!learn) return Scanner(body, out).document();
    learn->clear();
    std::vector<Span> spans;
    if (!Scanner(body, out, &spans).document()) return false;
    // learned only when every chart has its last_updated and every dimension its value (the tokens
    // then say them all) and the cuts fit their type
    if (spans.size() != out.last_updated.size() + out.values.size() ||
        body.size() > std::numeric_limits<std::uint32_t>::max()) {
        return true;
    }
    // the text without the tokens, and where each one was cut out of it
    learn->text.reserve(body.size());
    learn->cuts.reserve(spans.size());
    learn->tokens.reserve(spans.size());
    const char* from = body.data();
    for (const Span& span : spans) {
        learn->text.append(from, static_cast<std::size_t>(span.begin - from));
        learn->cuts.push_back(static_cast<std::uint32_t>(learn->text.size()));
        learn->tokens.push_back(span.token);
        from = span.end;
    }
    learn->text.append(from, static_cast<std::size_t>(body.data() + body.size() - from));
    learn->text.shrink_to_fit();   // kept for as long as the source answers alike: without the tokens' room
    learn->keys = out.keys;
    learn->charts = out.last_updated.size();
    learn->dimensions = out.values.size();
    return true;
}

bool decode_allmetrics_like(std::string_view body, const AllmetricsLayout& layout, AllmetricsValues& out) {
    out.clear();
    if (layout.empty()) return false;
    return Scanner(body, out).like(layout);
}

bool AllmetricsDecoder::decode(std::string_view body, std::string_view expected_keys) {
    if (!layout_.empty()) {
        if (layout_.keys == expected_keys && decode_allmetrics_like(body, layout_, decoded_)) {
            ++compared_;
            used_ = true;
            unused_ = 0;
            return true;
        }
        unused_ = used_ ? 0 : unused_ + 1;
        layout_.clear();
        if (unused_ >= 2) pause_ = std::min(std::uint32_t{1} << std::min(unused_ - 1, std::uint32_t{6}), kMaxLearningPause);
    }
    ++scanned_;
    bool read;
    if (pause_ > 0) {
        --pause_;
        read = decode_allmetrics_values(body, decoded_);
    } else {
        read = decode_allmetrics_values(body, decoded_, &layout_);
        used_ = false;
        if (!layout_.empty()) ++learnings_;
    }
    const bool ok = read && decoded_.keys == expected_keys;
    if (!ok) layout_.clear();
    std::string().swap(decoded_.keys);   // a learned layout holds them; scans are rare: no second copy
    return ok;
}

}  // namespace pyml
