/*
 * A type as one line of C-ish text, as bpftool's btf_dumper_type_only() writes it for the
 * function prototypes of `prog dump xlated` ("int xdp_count(struct xdp_md * ctx)"): its spacing
 * (a blank after every type word, "* " for pointers) and its gaps (TYPE_TAG and void-kind ids
 * give "" for the whole text) are bpftool's.
 */
import { BTF_KIND, BTF_VAR_STATIC, type Btf, type BtfFunc, type BtfFuncProto } from './types.js';

const MAX_DEPTH = 64;
/** bpftool's func_sig[1024]: longer text is cut (snprintf) and ends up shorter. */
const SIG_SIZE = 1024;

class Unprintable extends Error {}

function typeOnly(btf: Btf, id: number, depth: number): string {
  if (id === 0) return 'void ';
  if (depth > MAX_DEPTH) throw new Unprintable();
  const t = btf.types[id];
  if (!t) throw new Unprintable();
  const sub = (x: number): string => typeOnly(btf, x, depth + 1);
  switch (t.kind) {
    case BTF_KIND.INT: case BTF_KIND.TYPEDEF: case BTF_KIND.FLOAT: return `${t.name} `;
    case BTF_KIND.STRUCT: return `struct ${t.name} `;
    case BTF_KIND.UNION: return `union ${t.name} `;
    case BTF_KIND.ENUM: case BTF_KIND.ENUM64: return `enum ${t.name} `;
    case BTF_KIND.ARRAY: return `${sub(t.type)}[${t.nelems | 0}]`;
    case BTF_KIND.PTR: return `${sub(t.type)}* `;
    case BTF_KIND.FWD: return `${t.union ? 'union' : 'struct'} ${t.name} `;
    case BTF_KIND.VOLATILE: return `volatile ${sub(t.type)}`;
    case BTF_KIND.CONST: return `const ${sub(t.type)}`;
    case BTF_KIND.RESTRICT: return `restrict ${sub(t.type)}`;
    case BTF_KIND.FUNC_PROTO: return funcText(btf, t, undefined, depth);
    case BTF_KIND.FUNC: {
      const proto = btf.types[t.type];
      if (!proto || proto.kind !== BTF_KIND.FUNC_PROTO) throw new Unprintable();
      return funcText(btf, proto, t, depth);
    }
    case BTF_KIND.VAR: return `${t.linkage === BTF_VAR_STATIC ? 'static ' : ''}${sub(t.type)} ${t.name}`;
    case BTF_KIND.DATASEC: return `section ("${t.name}") `;
    default: throw new Unprintable();
  }
}

/** btf_dump_func(). */
function funcText(btf: Btf, proto: BtfFuncProto, func: BtfFunc | undefined, depth: number): string {
  let s = typeOnly(btf, proto.returnType, depth + 1) + (func ? `${func.name}(` : '(');
  proto.params.forEach((p, i) => {
    if (i) s += ', ';
    if (!p.type) { s += '...'; return; }
    s += typeOnly(btf, p.type, depth + 1);
    if (p.name) s += p.name;
    else if (s.endsWith(' ')) s = s.slice(0, -1); // an unnamed parameter loses its trailing blank
  });
  return s + ')';
}

/** btf_dumper_type_only(): the text of type `id`, or "" where bpftool prints nothing. */
export function btfTypeOnly(btf: Btf, id: number): string {
  try {
    return typeOnly(btf, id, 0).slice(0, SIG_SIZE - 1);
  } catch (err) {
    if (err instanceof Unprintable) return '';
    throw err;
  }
}
