// The allmetrics scanner: what it reads, the numbers it reads as from_chars does,
// and every malformed or truncated answer refused without reading past the end.
#include <charconv>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "../pyml/allmetrics.hpp"
#include "check.hpp"

namespace {

const char* const kAnswer =
    "{\n\t\"system.cpu\": {\n\t\t\"name\":\"system.cpu\",\n\t\t\"family\":\"cpu\",\n\t\t\"units\":\"percentage\",\n"
    "\t\t\"last_updated\": 1700000000,\n\t\t\"dimensions\": {\n"
    "\t\t\t\"user\": {\n\t\t\t\t\"name\": \"user\",\n\t\t\t\t\"value\": 1.2500000\n\t\t\t},\n"
    "\t\t\t\"system\": {\n\t\t\t\t\"name\": \"system\",\n\t\t\t\t\"value\": null\n\t\t\t}\n\t\t}\n\t},\n"
    "\t\"net.eth0\": {\"last_updated\": 1700000001, \"dimensions\": {\"received\": {\"value\": -3}}}\n}";

std::string keys_of(const std::vector<std::pair<std::string, std::vector<std::string>>>& charts) {
    std::string keys;
    for (const auto& [id, dims] : charts) {
        keys += id + pyml::kChartEnd;
        for (const auto& d : dims) keys += d + pyml::kDimensionEnd;
        keys += pyml::kChartClose;
    }
    return keys;
}

TEST_CASE("allmetrics: last_updated, values and keys of an answer") {
    pyml::AllmetricsValues out;
    CHECK(pyml::decode_allmetrics_values(kAnswer, out));
    CHECK_EQ(out.last_updated.size(), std::size_t{2});
    CHECK_EQ(out.last_updated[0], 1700000000);
    CHECK_EQ(out.last_updated[1], 1700000001);
    CHECK_EQ(out.values.size(), std::size_t{3});
    CHECK_EQ(out.values[0], 1.25);
    CHECK(std::isnan(out.values[1]));
    CHECK_EQ(out.values[2], -3.0);
    CHECK(out.keys == keys_of({{"system.cpu", {"user", "system"}}, {"net.eth0", {"received"}}}));
}

TEST_CASE("allmetrics: numbers read as from_chars reads them") {
    std::mt19937_64 rng(11);
    std::normal_distribution<double> normal(0.0, 1.0);
    std::uniform_int_distribution<int> scale(-9, 15), places(0, 17);
    char text[64];
    for (int i = 0; i < 20000; ++i) {
        const double x = normal(rng) * std::pow(10.0, scale(rng));
        const int n = (i % 2) ? std::snprintf(text, sizeof text, "%.*f", places(rng) % 12, x)
                              : std::snprintf(text, sizeof text, "%.*g", places(rng) + 1, x);
        const std::string doc = std::string("{\"c\": {\"dimensions\": {\"d\": {\"value\": ") + text + "}}}}";
        pyml::AllmetricsValues out;
        double want = 0.0;
        std::from_chars(text, text + n, want);
        CHECK(pyml::decode_allmetrics_values(doc, out));
        CHECK_EQ(out.values.size(), std::size_t{1});
        if (out.values.size() == 1 && !(out.values[0] == want)) {
            check::fail(__FILE__, __LINE__, std::string("number ") + text);
        }
    }
}

TEST_CASE("allmetrics: what it leaves to the general decoder is refused") {
    const char* const refused[] = {
        "{\"c\": {\"dimensions\": {\"d\\u0041\": {\"value\": 1}}}}",
        "{\"c\": {\"dimensions\": {\"d\": {\"value\": \"1\"}}}}",
        "{\"c\": {\"dimensions\": {\"d\": {\"value\": 1e999}}}}",
        "{\"c\": {\"last_updated\": 1.0}}",
        "{\"c\": {\"last_updated\": 1, \"last_updated\": 1}}",
        "{\"c\": {}} trailing",
        "{\"c\": {},}",
        "[]",
        "",
    };
    for (const char* doc : refused) {
        pyml::AllmetricsValues out;
        if (pyml::decode_allmetrics_values(doc, out)) check::fail(__FILE__, __LINE__, std::string("read: ") + doc);
    }
    std::string deep = "{\"c\": {\"x\": " + std::string(200, '[') + std::string(200, ']') + "}}";
    pyml::AllmetricsValues out;
    CHECK(!pyml::decode_allmetrics_values(deep, out));
}

TEST_CASE("allmetrics: every truncation refused, nothing read past the end") {
    const std::string whole = kAnswer;
    for (std::size_t n = 0; n < whole.size(); ++n) {
        // a copy of exactly n bytes, so that AddressSanitizer sees any read past the end
        std::vector<char> cut(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(n));
        pyml::AllmetricsValues out;
        if (pyml::decode_allmetrics_values(std::string_view(cut.data(), cut.size()), out)) {
            check::fail(__FILE__, __LINE__, "a truncation at " + std::to_string(n) + " was read");
        }
    }
}


// kAnswer with other numbers in its tokens: the same text between them
std::string with_numbers(const std::string& lu0, const std::string& v0, const std::string& v1, const std::string& lu1,
                         const std::string& v2) {
    return "{\n\t\"system.cpu\": {\n\t\t\"name\":\"system.cpu\",\n\t\t\"family\":\"cpu\",\n\t\t\"units\":\"percentage\",\n"
           "\t\t\"last_updated\": " + lu0 + ",\n\t\t\"dimensions\": {\n"
           "\t\t\t\"user\": {\n\t\t\t\t\"name\": \"user\",\n\t\t\t\t\"value\": " + v0 + "\n\t\t\t},\n"
           "\t\t\t\"system\": {\n\t\t\t\t\"name\": \"system\",\n\t\t\t\t\"value\": " + v1 + "\n\t\t\t}\n\t\t}\n\t},\n"
           "\t\"net.eth0\": {\"last_updated\": " + lu1 + ", \"dimensions\": {\"received\": {\"value\": " + v2 + "}}}\n}";
}

bool same(const pyml::AllmetricsValues& a, const pyml::AllmetricsValues& b) {
    if (a.last_updated != b.last_updated || a.values.size() != b.values.size()) return false;
    for (std::size_t i = 0; i < a.values.size(); ++i) {
        const bool equal = a.values[i] == b.values[i] || (std::isnan(a.values[i]) && std::isnan(b.values[i]));
        if (!equal || std::signbit(a.values[i]) != std::signbit(b.values[i])) return false;
    }
    return true;
}

TEST_CASE("allmetrics layout: the next answer read against the learned one, as the scan reads it") {
    pyml::AllmetricsValues scanned, compared;
    pyml::AllmetricsLayout layout;
    CHECK(pyml::decode_allmetrics_values(kAnswer, scanned, &layout));
    CHECK(!layout.empty());
    CHECK(layout.keys == scanned.keys);
    CHECK_EQ(layout.cuts.size(), std::size_t{5});
    CHECK_EQ(layout.charts, std::size_t{2});
    CHECK_EQ(layout.dimensions, std::size_t{3});
    CHECK(pyml::decode_allmetrics_like(kAnswer, layout, compared));
    CHECK(same(compared, scanned));
    CHECK(compared.keys.empty());
    const std::vector<std::vector<std::string>> answers = {
        {"1700000001", "2.5", "null", "1700000002", "-4"},
        {"1700000002", "null", "7", "1700000003", "1e3"},
        {"0", "-0", "0.0000001", "-12", "123456789.1234567"},
        {"9223372036854775807", "12345678901234567890", "-2.5E-3", "1", "99999999999999999999.5"},
    };
    for (const auto& n : answers) {
        const std::string doc = with_numbers(n[0], n[1], n[2], n[3], n[4]);
        pyml::AllmetricsValues want;
        CHECK(pyml::decode_allmetrics_values(doc, want));
        if (!pyml::decode_allmetrics_like(doc, layout, compared) || !same(compared, want)) {
            check::fail(__FILE__, __LINE__, "not read as the scan reads it: " + doc);
        }
    }
    // tokens the scan refuses are refused here too
    const std::vector<std::vector<std::string>> refused = {
        {"1.5", "1", "1", "1", "1"},            // a last_updated that is not an integer
        {"1", "\"1\"", "1", "1", "1"},          // a value that is a string
        {"1", "1e999", "1", "1", "1"},          // beyond a double's range
        {"1", "nul", "1", "1", "1"},
        {"1", "1", "1", "99999999999999999999", "1"},   // beyond int64
        {"1", "1.", "1", "1", "1"},
    };
    for (const auto& n : refused) {
        const std::string doc = with_numbers(n[0], n[1], n[2], n[3], n[4]);
        if (pyml::decode_allmetrics_like(doc, layout, compared)) {
            check::fail(__FILE__, __LINE__, "read: " + doc);
        }
    }
}

TEST_CASE("allmetrics layout: an answer changed outside its tokens is refused or read as the scan reads it") {
    pyml::AllmetricsValues first;
    pyml::AllmetricsLayout layout;
    CHECK(pyml::decode_allmetrics_values(kAnswer, first, &layout));
    const std::string whole = kAnswer;
    const std::string bytes = "{}[]\":, \t\n0123456789.-enulltruex\x01\\";
    std::mt19937_64 rng(5);
    std::uniform_int_distribution<std::size_t> at(0, whole.size() - 1), pick(0, bytes.size() - 1), kind(0, 2);
    int read = 0;
    for (int i = 0; i < 20000; ++i) {
        std::string doc = whole;
        const std::size_t where = at(rng);
        switch (kind(rng)) {
            case 0: doc[where] = bytes[pick(rng)]; break;
            case 1: doc.insert(where, 1, bytes[pick(rng)]); break;
            default: doc.erase(where, 1); break;
        }
        std::vector<char> exact(doc.begin(), doc.end());   // exactly its bytes, for AddressSanitizer
        const std::string_view view(exact.data(), exact.size());
        pyml::AllmetricsValues compared, want;
        if (!pyml::decode_allmetrics_like(view, layout, compared)) continue;
        ++read;
        // read against the layout: then the scan reads it, with the same values and the layout's keys
        if (!pyml::decode_allmetrics_values(view, want) || !same(compared, want) || want.keys != layout.keys) {
            check::fail(__FILE__, __LINE__, "read against the layout, not as the scan reads it: " + doc);
        }
    }
    CHECK(read > 0);   // changes inside the numbers are read
    for (std::size_t n = 0; n < whole.size(); ++n) {
        std::vector<char> cut(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(n));
        pyml::AllmetricsValues out;
        if (pyml::decode_allmetrics_like(std::string_view(cut.data(), cut.size()), layout, out)) {
            check::fail(__FILE__, __LINE__, "a truncation at " + std::to_string(n) + " was read");
        }
    }
}

TEST_CASE("allmetrics layout: not learned when a chart lacks last_updated or a dimension its value") {
    const char* const unlearned[] = {
        "{\"c\": {\"dimensions\": {\"d\": {\"value\": 1}}}}",
        "{\"c\": {\"last_updated\": 1, \"dimensions\": {\"d\": {\"name\": \"d\"}}}}",
    };
    for (const char* doc : unlearned) {
        pyml::AllmetricsValues out;
        pyml::AllmetricsLayout layout;
        CHECK(pyml::decode_allmetrics_values(doc, out, &layout));
        CHECK(layout.empty());
        CHECK(!pyml::decode_allmetrics_like(doc, layout, out));
    }
    pyml::AllmetricsValues out;
    pyml::AllmetricsLayout layout;
    CHECK(pyml::decode_allmetrics_values("{}", out, &layout));
    CHECK(!layout.empty());
    CHECK(pyml::decode_allmetrics_like("{}", layout, out));
    CHECK(!pyml::decode_allmetrics_like("{ }", layout, out));
    CHECK(!pyml::decode_allmetrics_values("{\"c\": 1", out, &layout));
}


std::string replaced(std::string text, const std::string& what, const std::string& with) {
    const std::size_t at = text.find(what);
    if (at != std::string::npos) text.replace(at, what.size(), with);
    return text;
}

TEST_CASE("allmetrics decoder: a steady source learned once, one whose text changes every time paused") {
    pyml::AllmetricsValues first;
    CHECK(pyml::decode_allmetrics_values(kAnswer, first));
    const std::string keys = first.keys;
    pyml::AllmetricsDecoder steady;
    for (int i = 0; i < 50; ++i) {
        const std::string doc = with_numbers(std::to_string(1700000000 + i), std::to_string(i) + ".5", "null",
                                             std::to_string(1700000001 + i), "-3");
        CHECK(steady.decode(doc, keys));
        CHECK_EQ(steady.values().values.size(), std::size_t{3});
        CHECK_EQ(steady.values().values[0], i + 0.5);
        CHECK_EQ(steady.values().last_updated[1], std::int64_t{1700000001} + i);
    }
    CHECK_EQ(steady.learnings(), std::uint64_t{1});
    CHECK_EQ(steady.compared(), std::uint64_t{49});
    CHECK_EQ(steady.scanned(), std::uint64_t{1});
    // a change outside the tokens (a display name): scanned and learned at once, then read against it
    const std::string renamed = replaced(kAnswer, "\"name\": \"user\"", "\"name\": \"usr\"");
    CHECK(renamed != kAnswer);
    CHECK(steady.decode(renamed, keys));
    CHECK_EQ(steady.learnings(), std::uint64_t{2});
    CHECK(steady.decode(replaced(renamed, "1.2500000", "7"), keys));
    CHECK_EQ(steady.values().values[0], 7.0);
    CHECK_EQ(steady.compared(), std::uint64_t{50});

    // the display name differs in every answer: never read against a layout, learned ever more rarely
    pyml::AllmetricsDecoder churning;
    for (int i = 0; i < 300; ++i) {
        const std::string doc = replaced(kAnswer, "\"name\": \"user\"", "\"name\": \"user" + std::to_string(i) + "\"");
        CHECK(churning.decode(doc, keys));
        CHECK_EQ(churning.values().values[0], 1.25);
    }
    CHECK_EQ(churning.compared(), std::uint64_t{0});
    CHECK_EQ(churning.scanned(), std::uint64_t{300});
    // learned at 1, 2, then after pauses of 2, 4, 8, 16, 32 and 64 scans (at most kMaxLearningPause)
    CHECK_EQ(churning.learnings(), std::uint64_t{10});
    // steady answers again: learned within one pause, then every answer read against the layout
    int polls = 0;
    while (churning.compared() == 0 && polls < 70) {
        CHECK(churning.decode(with_numbers("1", std::to_string(polls), "2", "3", "4"), keys));
        ++polls;
    }
    CHECK(polls <= 66);
    for (int i = 0; i < 20; ++i) CHECK(churning.decode(with_numbers("1", "2", std::to_string(i), "3", "4"), keys));
    CHECK_EQ(churning.compared(), std::uint64_t{21});
    CHECK_EQ(churning.values().values[1], 19.0);

    // other keys: refused, nothing learned; a malformed answer likewise
    pyml::AllmetricsDecoder other;
    CHECK(!other.decode(kAnswer, "x"));
    CHECK(!other.learned());
    CHECK(!other.decode("{\"c\": 1", keys));
    CHECK(!other.learned());
}

}  // namespace
