// png_ink FILE.png [MIN_FRACTION [light|dark]]: decodes a PNG (8-bit greyscale, RGB or
// RGBA, not interlaced: what Chromium's --screenshot writes) and prints the
// fraction of pixels that differ from the background (the top-left pixel) by
// more than 24 in some channel. Exits 1 when the fraction is below
// MIN_FRACTION (default 0.01): a blank or nearly blank screenshot; with
// "light" or "dark", also when the background is not of that scheme. Written by
// hand on zlib (a PNG is zlib data in IDAT chunks plus per-row filters) so the
// test needs no image library beyond what the project already links.
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace {

[[noreturn]] void fail(const std::string& file, const std::string& why) {
  std::fprintf(stderr, "png_ink: %s: %s\n", file.c_str(), why.c_str());
  std::exit(2);
}

std::uint32_t be32(const unsigned char* p) {
  return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) | p[3];
}

int paeth(int a, int b, int c) {
  const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: png_ink FILE.png [MIN_FRACTION [light|dark]]\n");
    return 2;
  }
  const std::string file = argv[1];
  const double min_fraction = argc > 2 ? std::atof(argv[2]) : 0.01;
  const std::string scheme = argc > 3 ? argv[3] : "";
  std::ifstream in(file, std::ios::binary);
  if (!in) fail(file, "cannot open");
  const std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  static const unsigned char sig[8] = {137, 80, 78, 71, 13, 10, 26, 10};
  if (bytes.size() < 8 || !std::equal(sig, sig + 8, bytes.begin())) fail(file, "not a PNG file");

  std::uint32_t width = 0, height = 0;
  int depth = 0, color = 0, interlace = 0;
  std::vector<unsigned char> idat;
  for (std::size_t pos = 8; pos + 12 <= bytes.size();) {
    const std::uint32_t len = be32(&bytes[pos]);
    if (pos + 12 + len > bytes.size()) fail(file, "truncated chunk");
    const std::string type(reinterpret_cast<const char*>(&bytes[pos + 4]), 4);
    const unsigned char* data = &bytes[pos + 8];
    if (type == "IHDR") {
      width = be32(data);
      height = be32(data + 4);
      depth = data[8];
      color = data[9];
      interlace = data[12];
    } else if (type == "IDAT") {
      idat.insert(idat.end(), data, data + len);
    } else if (type == "IEND") {
      break;
    }
    pos += 12 + len;
  }
  int channels = color == 0 ? 1 : color == 2 ? 3 : color == 4 ? 2 : color == 6 ? 4 : 0;
  if (width == 0 || height == 0 || depth != 8 || channels == 0 || interlace != 0)
    fail(file, "unsupported PNG (need 8-bit grey, grey+alpha, RGB or RGBA, not interlaced)");

  const std::size_t stride = std::size_t(width) * channels;
  std::vector<unsigned char> raw((stride + 1) * height);
  uLongf raw_len = static_cast<uLongf>(raw.size());
  if (uncompress(raw.data(), &raw_len, idat.data(), static_cast<uLong>(idat.size())) != Z_OK || raw_len != raw.size())
    fail(file, "corrupt image data");

  std::vector<unsigned char> img(stride * height), prev(stride, 0);
  for (std::uint32_t y = 0; y < height; ++y) {
    const unsigned char filter = raw[y * (stride + 1)];
    const unsigned char* src = &raw[y * (stride + 1) + 1];
    unsigned char* row = &img[y * stride];
    for (std::size_t i = 0; i < stride; ++i) {
      const int a = i >= std::size_t(channels) ? row[i - channels] : 0, b = prev[i],
                c = i >= std::size_t(channels) ? prev[i - channels] : 0;
      int v = src[i];
      switch (filter) {
        case 0: break;
        case 1: v += a; break;
        case 2: v += b; break;
        case 3: v += (a + b) / 2; break;
        case 4: v += paeth(a, b, c); break;
        default: fail(file, "bad row filter");
      }
      row[i] = static_cast<unsigned char>(v);
    }
    std::copy(row, row + stride, prev.begin());
  }

  std::uint64_t ink = 0;
  const int colour_channels = channels >= 3 ? 3 : 1;
  for (std::size_t p = 0; p < std::size_t(width) * height; ++p)
    for (int ch = 0; ch < colour_channels; ++ch)
      if (std::abs(int(img[p * channels + ch]) - int(img[ch])) > 24) {
        ++ink;
        break;
      }
  const double fraction = double(ink) / (double(width) * height);
  std::printf("%s: %ux%u, %.4f of the pixels differ from the background\n", file.c_str(), width, height, fraction);
  if (fraction < min_fraction) {
    std::fprintf(stderr, "png_ink: %s: blank screenshot (%.4f < %.4f of the pixels drawn)\n", file.c_str(), fraction,
                 min_fraction);
    return 1;
  }
  if (!scheme.empty()) {
    int lum = 0;
    for (int ch = 0; ch < colour_channels; ++ch) lum += img[ch];
    lum /= colour_channels;
    if ((scheme == "dark" && lum > 80) || (scheme == "light" && lum < 176)) {
      std::fprintf(stderr, "png_ink: %s: background brightness %d is not a %s scheme\n", file.c_str(), lum,
                   scheme.c_str());
      return 1;
    }
  }
  return 0;
}
