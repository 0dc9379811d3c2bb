#pragma once
// Seeded random damage to a file's bytes, for tests that readers never crash
// and refuse damaged input in the project's words.
#include <cstddef>
#include <random>
#include <string>
#include <string_view>

namespace gradcheck::test {

/// `bytes` with 1 to 4 edits drawn from `rng`: a byte overwritten with a
/// random one, the file cut short, or one character of `inserts` inserted
/// (pick characters that matter to the format: quotes, separators, brackets).
/// Never returns an empty string.
inline std::string corrupt(std::string bytes, std::mt19937_64& rng, std::string_view inserts) {
  const int edits = 1 + static_cast<int>(rng() % 4);
  for (int e = 0; e < edits; ++e) {
    std::uniform_int_distribution<std::size_t> pos(0, bytes.size() - 1);
    switch (rng() % 3) {
      case 0: bytes[pos(rng)] = static_cast<char>(rng() & 0xFF); break;
      case 1: bytes.resize(pos(rng)); break;
      default: {
        const auto at = static_cast<std::ptrdiff_t>(pos(rng));
        bytes.insert(bytes.begin() + at, inserts[rng() % inserts.size()]);
      }
    }
    if (bytes.empty()) bytes.push_back('x');
  }
  return bytes;
}

}  // namespace gradcheck::test
