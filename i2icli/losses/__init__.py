"""Loss functions, one small function per paper equation; each returns a scalar tensor."""

from i2icli.losses.adversarial import lsgan_d_loss, lsgan_g_loss
from i2icli.losses.reconstruction import cam_bce_loss, l1_loss

__all__ = ["cam_bce_loss", "l1_loss", "lsgan_d_loss", "lsgan_g_loss"]
