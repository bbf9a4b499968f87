#!/usr/bin/env python3
"""Generate the model-shape data files in this folder.

Each architecture is written out by hand (no torch/timm/transformers needed), in
the exact order PyTorch's ``named_parameters()`` yields the tensors.

Output format (one file per model):
  - lines starting with '#' are comments (model, source of truth, counts);
  - every other non-blank line is ``<tensor name> <shape>``, with the shape's
    dimensions joined by 'x' (e.g. ``conv1.weight 64x3x7x7``).

Usage: python3 generate_shapes.py   (writes next to this script, then verifies)
"""
import math
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def resnet50():
    """torchvision.models.resnet50(): Bottleneck (v1.5), layers [3, 4, 6, 3]."""
    p = [("conv1.weight", (64, 3, 7, 7)), ("bn1.weight", (64,)), ("bn1.bias", (64,))]

    def bn(name, c):
        p.append((name + ".weight", (c,)))
        p.append((name + ".bias", (c,)))

    inplanes = 64
    for li, (planes, blocks) in enumerate([(64, 3), (128, 4), (256, 6), (512, 3)], 1):
        for b in range(blocks):
            pre = "layer%d.%d." % (li, b)
            out = planes * 4
            p.append((pre + "conv1.weight", (planes, inplanes, 1, 1)))
            bn(pre + "bn1", planes)
            p.append((pre + "conv2.weight", (planes, planes, 3, 3)))
            bn(pre + "bn2", planes)
            p.append((pre + "conv3.weight", (out, planes, 1, 1)))
            bn(pre + "bn3", out)
            if b == 0:  # first block of every stage has a projection shortcut
                p.append((pre + "downsample.0.weight", (out, inplanes, 1, 1)))
                bn(pre + "downsample.1", out)
            inplanes = out
    p.append(("fc.weight", (1000, 2048)))
    p.append(("fc.bias", (1000,)))
    return p


def bert_large():
    """transformers.BertModel(bert-large-uncased config), with pooler."""
    V, H, L, I, P, T = 30522, 1024, 24, 4096, 512, 2
    p = [
        ("embeddings.word_embeddings.weight", (V, H)),
        ("embeddings.position_embeddings.weight", (P, H)),
        ("embeddings.token_type_embeddings.weight", (T, H)),
        ("embeddings.LayerNorm.weight", (H,)),
        ("embeddings.LayerNorm.bias", (H,)),
    ]
    for i in range(L):
        pre = "encoder.layer.%d." % i
        for n in ("query", "key", "value"):
            p.append((pre + "attention.self.%s.weight" % n, (H, H)))
            p.append((pre + "attention.self.%s.bias" % n, (H,)))
        p.append((pre + "attention.output.dense.weight", (H, H)))
        p.append((pre + "attention.output.dense.bias", (H,)))
        p.append((pre + "attention.output.LayerNorm.weight", (H,)))
        p.append((pre + "attention.output.LayerNorm.bias", (H,)))
        p.append((pre + "intermediate.dense.weight", (I, H)))
        p.append((pre + "intermediate.dense.bias", (I,)))
        p.append((pre + "output.dense.weight", (H, I)))
        p.append((pre + "output.dense.bias", (H,)))
        p.append((pre + "output.LayerNorm.weight", (H,)))
        p.append((pre + "output.LayerNorm.bias", (H,)))
    p.append(("pooler.dense.weight", (H, H)))
    p.append(("pooler.dense.bias", (H,)))
    return p


def vit_b16():
    """timm vit_base_patch16_224 (class token, no layer-scale, 1000 classes)."""
    D, depth, M, C, patch = 768, 12, 3072, 1000, 16
    n_tok = (224 // patch) ** 2 + 1
    p = [
        ("cls_token", (1, 1, D)),
        ("pos_embed", (1, n_tok, D)),
        ("patch_embed.proj.weight", (D, 3, patch, patch)),
        ("patch_embed.proj.bias", (D,)),
    ]
    for i in range(depth):
        pre = "blocks.%d." % i
        p += [
            (pre + "norm1.weight", (D,)), (pre + "norm1.bias", (D,)),
            (pre + "attn.qkv.weight", (3 * D, D)), (pre + "attn.qkv.bias", (3 * D,)),
            (pre + "attn.proj.weight", (D, D)), (pre + "attn.proj.bias", (D,)),
            (pre + "norm2.weight", (D,)), (pre + "norm2.bias", (D,)),
            (pre + "mlp.fc1.weight", (M, D)), (pre + "mlp.fc1.bias", (M,)),
            (pre + "mlp.fc2.weight", (D, M)), (pre + "mlp.fc2.bias", (D,)),
        ]
    p += [("norm.weight", (D,)), ("norm.bias", (D,)),
          ("head.weight", (C, D)), ("head.bias", (C,))]
    return p


MODELS = [
    ("resnet50.txt", resnet50,
     ["torchvision ResNet-50 (v1.5, Bottleneck blocks [3, 4, 6, 3], 1000 classes)",
      "Source of truth: torchvision.models.resnet50(), parameters in model.named_parameters() order",
      "(53 conv weights without bias, 53 BatchNorm weight+bias pairs, fc.weight, fc.bias;",
      " BatchNorm running stats are buffers, not parameters, and are not listed)"]),
    ("bert-large.txt", bert_large,
     ["HuggingFace BERT-large, uncased (vocab 30522, hidden 1024, 24 layers, 16 heads,",
      " intermediate 4096, max positions 512, type vocab 2), encoder plus pooler, no MLM/NSP heads",
      "Source of truth: transformers.BertModel(BertConfig.from_pretrained('bert-large-uncased')),",
      " parameters in model.named_parameters() order"]),
    ("vit-b16.txt", vit_b16,
     ["timm ViT-B/16 (patch 16, embed 768, depth 12, heads 12, mlp 3072, 224x224 input,",
      " class token, pos_embed 1x197x768, 1000-class head)",
      "Source of truth: timm.create_model('vit_base_patch16_224'), parameters in",
      " model.named_parameters() order"]),
]


def write(fname, params, header):
    total = sum(math.prod(s) for _, s in params)
    lines = ["# " + h for h in header]
    lines.append("# Tensors: %d" % len(params))
    lines.append("# Total parameters: %d" % total)
    lines.append("# Format: <tensor name> <shape>, shape dimensions joined by 'x'")
    lines.append("# Generated by generate_shapes.py")
    lines += ["%s %s" % (n, "x".join(map(str, s))) for n, s in params]
    with open(os.path.join(HERE, fname), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def parse(fname):
    """Read a shape file back: returns [(name, (dims...)), ...]."""
    out = []
    with open(os.path.join(HERE, fname), encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            name, shape = line.split(" ")
            out.append((name, tuple(int(d) for d in shape.split("x"))))
    return out


EXPECTED = {"resnet50.txt": (161, 25557032)}

if __name__ == "__main__":
    for fname, fn, header in MODELS:
        write(fname, fn(), header)
        params = parse(fname)
        names = [n for n, _ in params]
        assert len(set(names)) == len(names), fname + ": duplicate names"
        count, total = len(params), sum(math.prod(s) for _, s in params)
        if fname in EXPECTED:
            assert (count, total) == EXPECTED[fname], (fname, count, total)
        print("%-15s %4d tensors %12d parameters" % (fname, count, total))
