"""Building blocks shared by the TerraMind backbone and the tokenizer ViTs."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class BiaslessLayerNorm(nn.Module):
    """LayerNorm whose bias is a persistent zero buffer: the checkpoints store it, but it is never trained."""

    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))
        self.register_buffer('bias', torch.zeros(dim))

    def forward(self, x):
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, self.eps)


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int, bias: bool = True, act=nn.GELU):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden, bias=bias)
        self.act = act()
        self.fc2 = nn.Linear(hidden, dim, bias=bias)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class GatedMlp(nn.Module):
    """SwiGLU: fc2(silu(fc1 x) * fc3 x)."""

    def __init__(self, dim: int, hidden: int, bias: bool = False):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden, bias=bias)
        self.fc2 = nn.Linear(hidden, dim, bias=bias)
        self.fc3 = nn.Linear(dim, hidden, bias=bias)

    def forward(self, x):
        return self.fc2(F.silu(self.fc1(x)) * self.fc3(x))


def attend(q, k, v):
    """q [B,H,N,d], k/v [B,H,M,d] -> [B,N,H*d]. Plain softmax attention, no mask (generation needs none)."""
    scale = q.shape[-1] ** -0.5
    w = torch.softmax((q * scale) @ k.transpose(-2, -1), dim=-1)
    out = w @ v
    b, h, n, d = out.shape
    return out.transpose(1, 2).reshape(b, n, h * d)


class SelfAttention(nn.Module):
    def __init__(self, dim: int, heads: int, bias: bool = True):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, dim * 3, bias=bias)
        self.proj = nn.Linear(dim, dim, bias=bias)

    def forward(self, x):
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        return self.proj(attend(qkv[0], qkv[1], qkv[2]))


class CrossAttention(nn.Module):
    def __init__(self, dim: int, heads: int, bias: bool = True):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim, bias=bias)
        self.kv = nn.Linear(dim, dim * 2, bias=bias)
        self.proj = nn.Linear(dim, dim, bias=bias)

    def forward(self, x, context):
        b, n, c = x.shape
        m = context.shape[1]
        hd = c // self.heads
        q = self.q(x).reshape(b, n, self.heads, hd).transpose(1, 2)
        kv = self.kv(context).reshape(b, m, 2, self.heads, hd).permute(2, 0, 3, 1, 4)
        return self.proj(attend(q, kv[0], kv[1]))


def sincos_2d(h: int, w: int, dim: int, temperature: float = 10000.0) -> torch.Tensor:
    """[h*w, dim] fixed positions, raster order; channels = [sin(r w), cos(r w), sin(c w), cos(c w)]."""
    rows, cols = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing='ij')
    quarter = dim // 4
    omega = 1.0 / (temperature ** (torch.arange(quarter, dtype=torch.float32) / quarter))
    r = rows.flatten()[:, None] * omega[None]
    c = cols.flatten()[:, None] * omega[None]
    return torch.cat([torch.sin(r), torch.cos(r), torch.sin(c), torch.cos(c)], dim=1)


def patchify(x: torch.Tensor, p: int) -> torch.Tensor:
    """[B,C,H,W] -> [B, (H/p)(W/p), p*p*C]: raster-order patches, each pixel-major and channel-minor."""
    b, c, h, w = x.shape
    x = x.reshape(b, c, h // p, p, w // p, p)
    return x.permute(0, 2, 4, 3, 5, 1).reshape(b, (h // p) * (w // p), p * p * c)


def init_weights(module: nn.Module, std: float = 0.02):
    """Random init that keeps activations in a sane range for random-weight packages."""
    for m in module.modules():
        if isinstance(m, nn.Linear):  # convolutions keep torch's default (fan-in scaled) init
            nn.init.trunc_normal_(m.weight, std=std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, std=std)
