// Netdata 2.x's training-set sub-sampling: the mt19937 table, the cutoff, the
// periodic choice of kept vectors (SPEC-NETDATA-2 §3.2's figures).
#include <cstdint>
#include <random>
#include <vector>

#include "check.hpp"
#include "pyml/sampling.hpp"

namespace {

TEST_CASE("sampling table: the first outputs of std::mt19937(seed)") {
    const auto t = pyml::sampling_table(3, 5489);
    CHECK_EQ(t.size(), 3u);
    CHECK_EQ(t[0], 3499211612u);  // std::mt19937's documented first output for the default seed
    std::mt19937 gen(12345);
    const auto u = pyml::sampling_table(1440, 12345);
    bool same = true;
    for (std::size_t i = 0; i < u.size(); ++i) same &= u[i] == gen();
    CHECK(same);
    CHECK(pyml::sampling_table(0, 1).empty());
}

TEST_CASE("sampling cutoff: (uint32)(4294967295.0 * M / E), all kept when E <= M") {
    struct Row {
        std::size_t e, m;
        std::uint32_t cutoff;
    };
    const Row rows[] = {
        {21592, 1440, 286437240u},  // SPEC-NETDATA-2 §3.2: a 1-s chart, W = 6 h
        {1440, 1440, 4294967295u},
        {10, 1440, 4294967295u},
        {2880, 1440, 2147483647u},  // 4294967295 * 0.5 = 2147483647.5, truncated
        {3, 2, 2863311530u},        // 4294967295 * (2/3) = 2863311530, truncated
    };
    for (const Row& r : rows) CHECK_EQ(pyml::sampling_cutoff(r.e, r.m), r.cutoff);
}

TEST_CASE("sampled vectors: periodic with period M; seed 12345 keeps 100 offsets, 1500 vectors") {
    const std::size_t m = 1440, e = 21592;
    const auto table = pyml::sampling_table(m, 12345);
    const std::uint32_t cutoff = pyml::sampling_cutoff(e, m);
    std::size_t offsets = 0;
    for (std::uint32_t r : table) offsets += r <= cutoff;
    CHECK_EQ(offsets, 100u);  // SPEC-NETDATA-2 §3.2's example
    std::size_t kept = 0;
    bool periodic = true;
    for (std::size_t j = 0; j < e; ++j) {
        const bool k = pyml::sample_kept(j, table.data(), m, cutoff);
        kept += k;
        if (j >= m) periodic &= k == pyml::sample_kept(j - m, table.data(), m, cutoff);
    }
    CHECK_EQ(kept, 1500u);
    CHECK(periodic);
    CHECK_EQ(pyml::sampled_count(e, table.data(), m), kept);
    CHECK_EQ(pyml::sampled_count(1000, table.data(), m), 1000u);  // E <= M: every vector
    CHECK_EQ(pyml::sampled_count(0, table.data(), m), 0u);
}

}  // namespace

namespace {

TEST_CASE("kept offsets: the kept vectors are block * M + offset, in order") {
    for (std::uint32_t seed : {1u, 12345u, 5489u}) {
        for (std::size_t m : {2u, 7u, 1440u}) {
            const auto table = pyml::sampling_table(m, seed);
            for (std::size_t e : {std::size_t{1}, m - 1, m, 3 * m + 5, std::size_t{21592}}) {
                const std::uint32_t cutoff = pyml::sampling_cutoff(e, m);
                std::vector<std::uint32_t> offsets;
                pyml::kept_offsets(table.data(), m, cutoff, offsets);
                std::vector<std::size_t> want, got;
                for (std::size_t j = 0; j < e; ++j)
                    if (pyml::sample_kept(j, table.data(), m, cutoff)) want.push_back(j);
                for (std::size_t block = 0; block < e; block += m)
                    for (std::uint32_t o : offsets)
                        if (block + o < e) got.push_back(block + o);
                CHECK(got == want);
                CHECK_EQ(got.size(), pyml::sampled_count(e, table.data(), m));
            }
        }
    }
}

}  // namespace
