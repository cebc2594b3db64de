"""Thin export wrappers: one nn.Module per ONNX file of docs/model-package.md, with named inputs/outputs."""
import torch
import torch.nn as nn


class EmbedGraph(nn.Module):
    def __init__(self, embedding):
        super().__init__()
        self.embedding = embedding

    def forward(self, x):
        return self.embedding(x)


class EncoderGraph(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, tokens, emb):
        return self.model.encode(tokens, emb)


class DecoderGraph(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, context, queries):
        return self.model.decode(context, queries)


class HeadGraph(nn.Module):
    def __init__(self, output_embedding):
        super().__init__()
        # A fresh parameter, so the graph holds only the table it needs.
        self.table = nn.Parameter(output_embedding.token_emb.weight.detach().clone())

    def forward(self, hidden):
        return hidden @ self.table.t()


class TokenizerEncoderGraph(nn.Module):
    """image -> ids; the resized positions are a constant so no bicubic Resize lands in the graph."""

    def __init__(self, tokenizer):
        super().__init__()
        self.tokenizer = tokenizer
        self.register_buffer('pos', tokenizer.encoder.positions().detach().clone())

    def forward(self, image):
        return self.tokenizer.encode_ids(image, self.pos)


class UNetGraph(nn.Module):
    def __init__(self, divae):
        super().__init__()
        self.unet = divae.decoder

    def forward(self, x, t, code):
        return self.unet(x, t, code)


class LulcDecoderGraph(nn.Module):
    def __init__(self, vqvae):
        super().__init__()
        self.vqvae = vqvae
        self.register_buffer('pos', vqvae.decoder.positions().detach().clone())

    def forward(self, code):
        return self.vqvae.decode_code(code, self.pos)
