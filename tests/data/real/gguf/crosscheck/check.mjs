// Parses GGUF files with @huggingface/gguf (an independent parser) and prints,
// per file, its version, metadata and tensor infos as JSON (BigInts as
// strings), for make.py to compare with what it wrote.
import { gguf } from "@huggingface/gguf";
import path from "node:path";

const out = {};
for (const file of process.argv.slice(2)) {
  const { metadata, tensorInfos } = await gguf(path.resolve(file), { allowLocalFile: true });
  const { version, tensor_count, kv_count, ...kv } = metadata;
  out[file] = {
    version,
    tensor_count: String(tensor_count),
    kv_count: String(kv_count),
    metadata: kv,
    tensors: tensorInfos.map((t) => ({ name: t.name, shape: t.shape.map(String), dtype: t.dtype, offset: String(t.offset) })),
  };
}
process.stdout.write(JSON.stringify(out, (k, v) => (typeof v === "bigint" ? String(v) : v), 1) + "\n");
