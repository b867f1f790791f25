// Golden rows of the storage word (SPEC §1.8, §1.8b) and differential tests of
// the fast paths against the 80-bit reference.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "../pyml/storage_number.hpp"
#include "check.hpp"

using pyml::storage_word;

namespace {

const double kInf = std::numeric_limits<double>::infinity();
const double kNaN = std::numeric_limits<double>::quiet_NaN();

struct GoldenRow {
    double value;
    storage_word flags;
    storage_word packed;
    double unpacked;  // as printed in SPEC §1.8 (rounded for reading)
    bool anomalous;
};

const GoldenRow kRows[] = {
    {0.0, 0x01000000, 0x01000000, 0.0, false},
    {0.0, 0x00000000, 0x04000000, 0.0, true},
    {0.0, 0x02000000, 0x02000000, 0.0, true},
    {1.0, 0x01000000, 0x39989680, 1.0, false},
    {1.0, 0x00000000, 0x38989680, 1.0, true},
    {-1.0, 0x03000000, 0xBB989680, -1.0, false},
    {0.1, 0x01000000, 0x390F4240, 0.1, false},
    {2.5, 0x01000000, 0x312625A0, 2.5, false},
    {99.99, 0x01000000, 0x29989298, 99.99, false},
    {-12345.678, 0x02000000, 0x9ABC614E, -12345.678, true},
    {1677725.0, 0x01000000, 0x0119999D, 1677725.0, false},
    {16777215.0, 0x01000000, 0x01FFFFFF, 16777215.0, false},
    {16777216.0, 0x01000000, 0x4919999A, 16777220.0, false},
    {123456789.0, 0x01000000, 0x49BC614F, 123456790.0, false},
    {1e12, 0x01000000, 0x69989680, 1e12, false},
    {1.6777215e14, 0x01000000, 0x79FFFFFF, 1.6777215e14, false},
    {1.6777216e14, 0x01000000, 0x6519999A, 1.677722e14, false},
    {1e15, 0x01000000, 0x65989680, 1e15, false},
    {1e22, 0x01000000, 0x7DFFFFFF, 1.6777215e21, false},
    {kInf, 0x01000000, 0x7DFFFFFF, 1.6777215e21, false},
    {-kInf, 0x00000000, 0xFCFFFFFF, -1.6777215e21, true},
    {1e-7, 0x01000000, 0x39000001, 1e-7, false},
    {1.5e-7, 0x01000000, 0x39000002, 2e-7, false},
    {4.9e-8, 0x00000000, 0x38000000, 0.0, true},
    {0.23106775, 0x01000000, 0x39234216, 0.2310678, false},
};

struct ExactRow {
    double value;
    storage_word flags;
    storage_word packed;
    double unpacked;
};

const ExactRow kExactRows[] = {
    {1.0, 0x01000000, 0x39989680, 0x1.0000000000000p+0},
    {0.1, 0x02000000, 0x3A0F4240, 0x1.999999999999ap-4},
    {2.5, 0x00000000, 0x302625A0, 0x1.4000000000000p+1},
    {99.99, 0x01000000, 0x29989298, 0x1.8ff5c28f5c28fp+6},
    {1677725.0, 0x02000000, 0x0219999D, 0x1.9999d00000000p+20},
    {16777216.0, 0x00000000, 0x4819999A, 0x1.0000040000000p+24},
    {123456789.0, 0x01000000, 0x49BC614F, 0x1.d6f3458000000p+26},
    {1e12, 0x03000000, 0x6B989680, 0x1.d1a94a2000000p+39},
    {1.6777215e14, 0x00000000, 0x78FFFFFF, 0x1.312cfeced3000p+47},
    {1.6777216e14, 0x03000000, 0x6719999A, 0x1.312d04c4b4000p+47},
    {1e15, 0x02000000, 0x66989680, 0x1.c6bf526340000p+49},
    {1e22, 0x03000000, 0x7FFFFFFF, 0x1.6bcc407d33be1p+70},
    {1e-7, 0x00000000, 0x38000001, 0x1.ad7f29abcaf48p-24},
    {1.5e-7, 0x01000000, 0x39000002, 0x1.ad7f29abcaf48p-23},
};

bool close(double a, double b) {
    if (a == b) return true;
    return std::fabs(a - b) <= 1e-15 * std::fabs(b);
}

bool flag_anomalous(storage_word flags) { return (flags & pyml::kAnomalyBit) == 0; }
bool flag_reset(storage_word flags) { return (flags & pyml::kResetFlag) != 0; }

}  // namespace

TEST_CASE("golden rows pack bit for bit (reference, fast and sample paths)") {
    for (const auto& row : kRows) {
        CHECK_EQ(pyml::pack_reference(row.value, row.flags), row.packed);
        CHECK_EQ(pyml::pack_word(row.value, row.flags), row.packed);
        CHECK_EQ(pyml::pack_sample(row.value, flag_anomalous(row.flags), flag_reset(row.flags)),
                 row.packed);
    }
}

TEST_CASE("golden rows unpack to the listed values and flags") {
    for (const auto& row : kRows) {
        CHECK(close(pyml::unpack_reference(row.packed), row.unpacked));
        CHECK_EQ(pyml::unpack_word(row.packed), pyml::unpack_reference(row.packed));
        CHECK_EQ(pyml::word_anomalous(row.packed), row.anomalous);
        CHECK(pyml::word_exists(row.packed));
    }
}

TEST_CASE("exact unpacked values of SPEC 1.8b") {
    for (const auto& row : kExactRows) {
        CHECK_EQ(pyml::pack_word(row.value, row.flags), row.packed);
        CHECK_EQ(pyml::unpack_reference(row.packed), row.unpacked);
        CHECK_EQ(pyml::unpack_word(row.packed), row.unpacked);
    }
}

TEST_CASE("NaN: the reference packs it like zero, pyml stores the empty slot") {
    CHECK_EQ(pyml::pack_reference(kNaN, 0x00000000), 0x04000000u);
    CHECK_EQ(pyml::pack_reference(kNaN, 0x01000000), 0x01000000u);
    CHECK_EQ(pyml::pack_sample(kNaN, false, false), pyml::kEmptySlot);
    CHECK_EQ(pyml::pack_sample(kNaN, true, true), pyml::kEmptySlot);
}

TEST_CASE("bit 26 passed by a caller makes multiply mode decode with factor 100") {
    CHECK_EQ(pyml::pack_reference(1e12, 0x05000000), 0x6D989680u);
    CHECK_EQ(pyml::unpack_reference(0x6D989680u), 1e17);
}

TEST_CASE("the empty word: unpacks to 0, does not exist, is not anomalous") {
    CHECK_EQ(pyml::unpack_reference(0), 0.0);
    CHECK_EQ(pyml::unpack_double(0), 0.0);
    CHECK(!pyml::word_exists(0));
    CHECK(!pyml::word_anomalous(0));
}

TEST_CASE("fast pack equals the 80-bit reference on random and near-tie values") {
    std::mt19937_64 rng(12345);
    std::uniform_real_distribution<double> exponent(-12.0, 23.0);
    std::uniform_int_distribution<std::int64_t> digits(0, 99999999);
    std::uniform_int_distribution<int> decimals(0, 12);
    const storage_word flag_choices[] = {0x00000000, 0x01000000, 0x02000000, 0x03000000};
    int mismatches = 0;
    for (int i = 0; i < 1000000; ++i) {
        double v;
        switch (i % 3) {
            case 0: v = std::pow(10.0, exponent(rng)); break;
            case 1: v = static_cast<double>(digits(rng)) / std::pow(10.0, decimals(rng)); break;
            default: {  // exact .5 ties of the scaled mantissa
                const double mantissa = static_cast<double>(digits(rng) % 16777215) + 0.5;
                v = mantissa / std::pow(10.0, decimals(rng) % 8);
            }
        }
        if (i & 1) v = -v;
        const storage_word flags = flag_choices[i & 3];
        if (pyml::pack_word(v, flags) != pyml::pack_reference(v, flags)) ++mismatches;
    }
    CHECK_EQ(mismatches, 0);
}

TEST_CASE("fast pack equals the reference within a few ulps of every threshold") {
    const double thresholds[] = {16777215.0, 1677726.0, 1677725.5, 1.6777215e14, 1.6777215e21,
                                 167772150.0, 1677721500.0, 1.6777215e10, 1.6777215e12, 1.6777215e13,
                                 1.6777215e16, 1.6777215e19, 167772.6, 16777.26, 1677.726, 167.7726,
                                 16.77726, 1.677726, 0.1677726, 0.01677726, 5e-8, 1.5e-7};
    const storage_word flag_choices[] = {0x00000000, 0x01000000, 0x02000000, 0x03000000};
    int mismatches = 0;
    for (double t : thresholds) {
        double up = t, down = t;
        for (int step = 0; step < 64; ++step) {
            for (double v : {up, down, -up, -down}) {
                for (storage_word flags : flag_choices) {
                    if (pyml::pack_word(v, flags) != pyml::pack_reference(v, flags)) ++mismatches;
                }
            }
            up = std::nextafter(up, kInf);
            down = std::nextafter(down, 0.0);
        }
    }
    CHECK_EQ(mismatches, 0);
}

TEST_CASE("fast unpack equals the 80-bit reference on random words") {
    std::mt19937 rng(777);
    int mismatches = 0;
    for (int i = 0; i < 1000000; ++i) {
        const storage_word w = static_cast<storage_word>(rng());
        if (w == 0) continue;
        const double a = pyml::unpack_word(w), b = pyml::unpack_reference(w);
        if (!(a == b && std::signbit(a) == std::signbit(b))) ++mismatches;
    }
    CHECK_EQ(mismatches, 0);
}

// Values below the 1e-7 resolution decode to zero, whose word differs from the
// sub-resolution word (m bits set); for those only the decoded value is stable.
TEST_CASE("pack, unpack, pack is stable and keeps the flags") {
    std::mt19937_64 rng(99);
    std::uniform_real_distribution<double> exponent(-9.0, 22.0);
    int unstable = 0;
    for (int i = 0; i < 200000; ++i) {
        const double v = (i & 1 ? -1 : 1) * std::pow(10.0, exponent(rng));
        const bool anomalous = (i >> 1) & 1, reset = (i >> 2) & 1;
        const storage_word w = pyml::pack_sample(v, anomalous, reset);
        const double decoded = pyml::unpack_word(w);
        const storage_word again = pyml::pack_sample(decoded, anomalous, reset);
        const bool word_stable = decoded == 0 || w == again;
        if (!word_stable || pyml::unpack_word(again) != decoded || pyml::word_anomalous(w) != anomalous || pyml::word_reset(w) != reset) ++unstable;
    }
    CHECK_EQ(unstable, 0);
}

TEST_CASE("batch pack and unpack agree with the scalar functions") {
    const double values[] = {0.0, 1.0, -2.5, kNaN, 1e22, -kInf, 0.23106775};
    const std::uint8_t anomalous[] = {1, 0, 1, 0, 1, 0, 1};
    const std::uint8_t reset = 1;
    const std::size_t n = sizeof(values) / sizeof(values[0]);
    storage_word words[n];
    pyml::pack_samples(values, n, anomalous, 1, &reset, 0, words);
    double out[n];
    std::uint8_t out_anomalous[n], out_exists[n];
    pyml::unpack_samples(words, n, out, out_anomalous, out_exists);
    for (std::size_t i = 0; i < n; ++i) {
        CHECK_EQ(words[i], pyml::pack_sample(values[i], anomalous[i] != 0, true));
        if (std::isnan(values[i])) {
            CHECK(std::isnan(out[i]));
            CHECK_EQ(out_exists[i], 0);
            CHECK_EQ(out_anomalous[i], 0);
        } else {
            CHECK_EQ(out[i], pyml::unpack_reference(words[i]));
            CHECK_EQ(out_exists[i], 1);
            CHECK_EQ(out_anomalous[i], anomalous[i]);
        }
    }
}

TEST_CASE("branch-free batch pack equals pack_sample on random values, every threshold and specials") {
    std::vector<double> values;
    std::mt19937_64 rng(2024);
    std::uniform_real_distribution<double> exponent(-12.0, 23.0);
    std::uniform_int_distribution<std::int64_t> digits(0, 99999999);
    for (int i = 0; i < 300000; ++i) {
        double v;
        switch (i % 4) {
            case 0: v = std::pow(10.0, exponent(rng)); break;
            case 1: v = static_cast<double>(digits(rng)) / std::pow(10.0, static_cast<int>(rng() % 13)); break;
            case 2:  // exact .5 ties of the scaled mantissa
                v = (static_cast<double>(digits(rng) % 16777215) + 0.5) / std::pow(10.0, static_cast<int>(rng() % 8));
                break;
            default: {  // any bit pattern: NaNs, infinities, subnormals, huge and tiny values
                const std::uint64_t u = rng();
                std::memcpy(&v, &u, sizeof v);
            }
        }
        values.push_back(i & 1 ? -v : v);
    }
    // pack_word's thresholds, the edges of its intervals, and binade edges,
    // each with 200 neighbours on either side.
    const double edges[] = {0.1677726, 1.6777215, 1.677726, 16.777215, 16.77726, 167.77215, 167.7726,
                            1677.7215, 1677.726, 16777.215, 16777.26, 167772.15, 167772.6, 1677721.5,
                            1677726.0, 16777215.0, 167772150.0, 1677721500.0, 1.6777215e10, 1.6777215e11,
                            1.6777215e12, 1.6777215e13, 1.6777215e14, 1.6777215e15, 1.6777215e17,
                            1.6777215e19, 1.6777215e21, 0.0625, 0.125, 1.0, 2.0, 1048576.0, 16777216.0,
                            2.3611832414348226e21};
    for (double t : edges) {
        double up = t, down = t;
        for (int step = 0; step < 200; ++step) {
            values.insert(values.end(), {up, down, -up, -down});
            up = std::nextafter(up, kInf);
            down = std::nextafter(down, 0.0);
        }
    }
    values.insert(values.end(), {0.0, -0.0, kNaN, -kNaN, kInf, -kInf, 5e-324, -1e-310, 1e-300, 1e300, 2e21});
    const storage_word flag_choices[] = {0x00000000, 0x01000000, 0x02000000, 0x03000000};
    std::vector<storage_word> flags(values.size()), words(values.size());
    for (std::size_t i = 0; i < values.size(); ++i) flags[i] = flag_choices[(i / 7) % 4];
    pyml::pack_flagged(values.data(), flags.data(), values.size(), words.data());
    // Lengths below four take the one-lane path: check it on the same values.
    std::vector<storage_word> singles(values.size());
    for (std::size_t i = 0; i < values.size(); i += i < 20000 || i >= 300000 ? 1 : 7) {
        pyml::pack_flagged(&values[i], &flags[i], 1, &singles[i]);
        if (singles[i] != words[i]) words[i] = ~words[i];  // counted as a mismatch below
    }
    int mismatches = 0;
    for (std::size_t i = 0; i < values.size(); ++i) {
        const storage_word expected = pyml::pack_sample(values[i], flag_anomalous(flags[i]), flag_reset(flags[i]));
        if (words[i] != expected) {
            if (mismatches < 5) std::fprintf(stderr, "pack_flagged(%.17g, %08x) = %08x, expected %08x\n", values[i],
                                             flags[i], words[i], expected);
            ++mismatches;
        }
    }
    CHECK_EQ(mismatches, 0);
}

TEST_CASE("branch-free batch pack: golden rows, and lengths that are not a multiple of its step") {
    for (const auto& row : kRows) {
        storage_word word = 0;
        pyml::pack_flagged(&row.value, &row.flags, 1, &word);
        CHECK_EQ(word, row.packed);
    }
    for (std::size_t n : {0u, 1u, 63u, 64u, 65u, 130u}) {
        std::vector<double> values(n + 1, 7.0);
        std::vector<storage_word> flags(n + 1, pyml::kAnomalyBit), words(n + 1, 0xDEADBEEFu);
        for (std::size_t i = 0; i < n; ++i) values[i] = i % 5 == 0 ? kNaN : 0.25 * static_cast<double>(i);
        pyml::pack_flagged(values.data(), flags.data(), n, words.data());
        for (std::size_t i = 0; i < n; ++i) CHECK_EQ(words[i], pyml::pack_sample(values[i], false, false));
        CHECK_EQ(words[n], 0xDEADBEEFu);  // nothing written beyond n
    }
}
