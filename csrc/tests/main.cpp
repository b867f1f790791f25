// Entry point for the C++ unit tests: every test_*.cpp registers its cases.
#include "check.hpp"

int main() { return check::run_all(); }
