// An empty program: its target builds the test programs' precompiled header
// (Catch2 v2's single header), which every test program reuses
// (tests/CMakeLists.txt). It is an executable so that its code-generation
// flags (-fPIE) are those of the test programs.
int main() { return 0; }
