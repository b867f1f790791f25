// Runs dlib's k-means the way the reference agent calls it, for the parity
// test and the training benchmark of pyml.
//
// Usage: dlib_kmeans INPUT [REPEATS] [fixed]
// INPUT is binary, little-endian: uint64 rows, uint64 dims, uint64
// max_iterations, then rows*dims float64 feature values (row-major): any
// vector matrix (all feature rows, or a sampled training set).
// `fixed` runs dlib on dlib::matrix<double, 6, 1> samples, the fixed-size type
// Netdata 2.x trains on (needs dims == 6); otherwise dynamic-size vectors, as
// Netdata v1.33 used.
// Prints, with floats as C99 hex (%a):
//   initial <dims values>      (k = 2 lines: dlib::pick_initial_centers)
//   center <dims values>       (2 lines: after dlib::find_clusters_using_kmeans)
//   min_dist <v> / max_dist <v>   (mean distance of a row to the two centres)
//   time_ns_min <n> / time_ns_median <n>   (the two dlib calls, REPEATS runs)
// Build: g++ -std=c++17 -O2 -ffp-contract=off dlib_kmeans.cpp -ldlib -l:libblas.so.3
#include <dlib/clustering.h>
#include <dlib/matrix.h>

#include <algorithm>
#include <cfloat>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

namespace {

bool read_u64(std::ifstream& in, std::uint64_t& v) {
    unsigned char b[8];
    if (!in.read(reinterpret_cast<char*>(b), 8)) return false;
    v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | b[i];
    return true;
}

template <class sample_type>
void print_row(const char* label, const sample_type& v) {
    std::printf("%s", label);
    for (long e = 0; e < v.size(); ++e) std::printf(" %a", v(e));
    std::printf("\n");
}

template <class sample_type>
int run(std::ifstream& in, std::uint64_t rows, std::uint64_t dims, std::uint64_t max_iter, long repeats) {
    std::vector<sample_type> samples(rows);
    std::vector<double> buf(dims);
    for (std::uint64_t r = 0; r < rows; ++r) {
        if (!in.read(reinterpret_cast<char*>(buf.data()), static_cast<std::streamsize>(dims * sizeof(double)))) {
            std::fprintf(stderr, "truncated input: row %llu\n", static_cast<unsigned long long>(r));
            return 2;
        }
        if (sample_type::NR == 0) samples[r].set_size(static_cast<long>(dims));
        for (std::uint64_t e = 0; e < dims; ++e) samples[r](static_cast<long>(e)) = buf[e];
    }

    std::vector<sample_type> initial, centers;
    std::vector<long long> times;
    for (long rep = 0; rep < repeats; ++rep) {
        std::vector<sample_type> c;
        const auto t0 = std::chrono::steady_clock::now();
        dlib::pick_initial_centers(2, c, samples, dlib::linear_kernel<sample_type>(), 0.01);
        std::vector<sample_type> picked = c;
        dlib::find_clusters_using_kmeans(samples, c, static_cast<unsigned long>(max_iter));
        const auto t1 = std::chrono::steady_clock::now();
        times.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
        initial = picked;
        centers = c;
    }

    double min_dist = DBL_MAX, max_dist = DBL_MIN;
    for (const sample_type& s : samples) {
        double sum = 0.0;
        for (const sample_type& c : centers) sum += dlib::length(c - s);
        const double md = sum / centers.size();
        if (md < min_dist) min_dist = md;
        if (md > max_dist) max_dist = md;
    }

    for (const sample_type& c : initial) print_row("initial", c);
    for (const sample_type& c : centers) print_row("center", c);
    std::printf("min_dist %a\nmax_dist %a\n", min_dist, max_dist);
    std::sort(times.begin(), times.end());
    std::printf("time_ns_min %lld\ntime_ns_median %lld\n", times.front(), times[times.size() / 2]);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s INPUT [REPEATS] [fixed]\n", argv[0]);
        return 2;
    }
    const long repeats = argc > 2 ? std::max(1L, std::atol(argv[2])) : 1;
    const bool fixed = argc > 3 && std::string(argv[3]) == "fixed";
    std::ifstream in(argv[1], std::ios::binary);
    std::uint64_t rows = 0, dims = 0, max_iter = 0;
    if (!in || !read_u64(in, rows) || !read_u64(in, dims) || !read_u64(in, max_iter) || rows < 2 || dims < 1) {
        std::fprintf(stderr, "bad input header in %s\n", argv[1]);
        return 2;
    }
    if (fixed) {
        if (dims != 6) {
            std::fprintf(stderr, "fixed needs 6 dims, the input has %llu\n", static_cast<unsigned long long>(dims));
            return 2;
        }
        return run<dlib::matrix<double, 6, 1>>(in, rows, dims, max_iter, repeats);
    }
    return run<dlib::matrix<double, 0, 1>>(in, rows, dims, max_iter, repeats);
}
