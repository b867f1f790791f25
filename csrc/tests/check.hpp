// A tiny test harness for the C++ core: TEST_CASE registers a function,
// CHECK / CHECK_EQ record failures with file and line, main() runs them all
// and prints "N passed, N failed".
#pragma once

#include <cstdio>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

namespace check {

struct Case {
    const char* name;
    std::function<void()> body;
};

inline std::vector<Case>& registry() {
    static std::vector<Case> cases;
    return cases;
}

inline int& failures_in_case() {
    static int failures = 0;
    return failures;
}

struct Register {
    Register(const char* name, std::function<void()> body) { registry().push_back({name, std::move(body)}); }
};

inline void fail(const char* file, int line, const std::string& what) {
    std::fprintf(stderr, "%s:%d: FAILED: %s\n", file, line, what.c_str());
    ++failures_in_case();
}

template <class A, class B>
void check_eq(const A& a, const B& b, const char* expr_a, const char* expr_b, const char* file, int line) {
    if (!(a == b)) {
        std::ostringstream out;
        out.precision(17);
        out << expr_a << " == " << expr_b << " (" << a << " vs " << b << ")";
        fail(file, line, out.str());
    }
}

inline int run_all() {
    int passed = 0, failed = 0;
    for (const auto& c : registry()) {
        failures_in_case() = 0;
        try {
            c.body();
        } catch (const std::exception& e) {
            fail(__FILE__, __LINE__, std::string(c.name) + " threw: " + e.what());
        }
        if (failures_in_case() == 0) {
            ++passed;
        } else {
            ++failed;
            std::fprintf(stderr, "case failed: %s\n", c.name);
        }
    }
    std::printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}

}  // namespace check

#define CHECK_CAT2(a, b) a##b
#define CHECK_CAT(a, b) CHECK_CAT2(a, b)
#define TEST_CASE(name)                                                              \
    static void CHECK_CAT(test_fn_, __LINE__)();                                     \
    static ::check::Register CHECK_CAT(test_reg_, __LINE__)(name, CHECK_CAT(test_fn_, __LINE__)); \
    static void CHECK_CAT(test_fn_, __LINE__)()
#define CHECK(cond) \
    do { if (!(cond)) ::check::fail(__FILE__, __LINE__, #cond); } while (0)
#define CHECK_EQ(a, b) ::check::check_eq((a), (b), #a, #b, __FILE__, __LINE__)
#define CHECK_THROWS(expr, type)                                                     \
    do {                                                                             \
        bool thrown_ = false;                                                        \
        try { (void)(expr); } catch (const type&) { thrown_ = true; }                \
        if (!thrown_) ::check::fail(__FILE__, __LINE__, #expr " did not throw " #type); \
    } while (0)
