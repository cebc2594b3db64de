"""DDIM schedule of the DiVAE decoders: linear betas, zero-terminal-SNR rescale, trailing integer-ratio steps."""
import torch


def zero_terminal_snr(betas):
    """Shift and scale sqrt(alpha_bar) so the last step is pure noise while the first is unchanged."""
    sqrt_bar = torch.cumprod(1.0 - betas, 0).sqrt()
    first, last = sqrt_bar[0].clone(), sqrt_bar[-1].clone()
    sqrt_bar = (sqrt_bar - last) * first / (first - last)
    bar = sqrt_bar ** 2
    alphas = torch.cat([bar[:1], bar[1:] / bar[:-1]])
    return 1.0 - alphas


class DdimSchedule:
    def __init__(self, cfg):
        n = cfg['numTrainTimesteps']
        # float32 as the reference scheduler computes it
        betas = torch.linspace(cfg['betaStart'], cfg['betaEnd'], n, dtype=torch.float32)
        if cfg.get('zeroTerminalSnr', True):
            betas = zero_terminal_snr(betas)
        self.n = n
        self.clip = float(cfg.get('clipSample', 1.0))  # x0 clamp (dynamic thresholding with sample_max_value)
        self.alphas_cumprod = torch.cumprod(1.0 - betas, 0)

    def timesteps(self, steps):
        ratio = self.n // steps
        return [t - 1 for t in range(self.n, 0, -ratio)]

    def steps(self, steps):
        """(t, alpha_bar_t, alpha_bar_prev) per step; prev is 1.0 past the end."""
        ratio = self.n // steps
        for t in self.timesteps(steps):
            prev = t - ratio
            a_prev = float(self.alphas_cumprod[prev]) if prev >= 0 else 1.0
            yield t, float(self.alphas_cumprod[t]), a_prev
