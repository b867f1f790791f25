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

}  // namespace
