"""Loss functions, one small function per paper equation; each returns a scalar tensor."""

from i2icli.losses.adversarial import lsgan_d_loss, lsgan_g_loss
from i2icli.losses.perceptual import content_loss, gram_matrix, style_loss
from i2icli.losses.reconstruction import cam_bce_loss, l1_loss

__all__ = ["cam_bce_loss", "content_loss", "gram_matrix", "l1_loss", "lsgan_d_loss", "lsgan_g_loss", "style_loss"]
