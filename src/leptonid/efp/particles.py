"""Calorimeter images as particles for the EFPs.

Every non-zero pixel of an image is a particle at its pixel centre
(:func:`leptonid.layout.pixel_centres`) with weight z = pixel ET / image ET.
"""

from __future__ import annotations

import numpy as np

from leptonid import layout

__all__ = ["particles_from_images"]


def particles_from_images(images: np.ndarray, image: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Turn images into padded particle arrays.

    Arguments:
        images: ``(N, H, W)`` or ``(N, H, W, 1)`` pixel ET.
        image: ``"et"`` or ``"ht"`` (selects the pixel grid).

    Returns:
        ``(z, eta, phi, mask)``, each ``(N, M)`` float64 (mask bool), M the
        largest number of non-zero pixels; particles are the non-zero pixels
        in row-major order, z = pixel ET / image ET. Padding has z = 0 and
        mask False. An image without any non-zero pixel has no particles.
    """
    eta_c, phi_c = layout.pixel_centres(image)
    arr = np.asarray(images)
    if arr.ndim == 4 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim != 3 or arr.shape[1:] != (len(eta_c), len(phi_c)):
        raise ValueError(f"{image} images must have shape (N, {len(eta_c)}, {len(phi_c)}[, 1]), got {np.shape(images)}")
    flat = arr.reshape(len(arr), -1).astype(np.float64)
    if not np.all(np.isfinite(flat)):
        raise ValueError(f"{image} images contain non-finite pixels")
    if np.any(flat < 0):
        raise ValueError(
            f"{image} images contain negative pixels: EFPs need ET in physical units "
            "(standardised images are not ET; use the unscaled images)"
        )
    nz = flat != 0
    counts = nz.sum(axis=1)
    m = int(counts.max()) if len(flat) else 0
    order = np.argsort(~nz, axis=1, kind="stable")[:, :m]  # non-zero pixels first
    mask = np.arange(m)[None, :] < counts[:, None]
    et = np.where(mask, np.take_along_axis(flat, order, axis=1), 0.0)
    total = et.sum(axis=1, keepdims=True)
    z = np.divide(et, total, out=np.zeros_like(et), where=total != 0)
    eta_grid = np.repeat(np.asarray(eta_c, dtype=np.float64), len(phi_c))
    phi_grid = np.tile(np.asarray(phi_c, dtype=np.float64), len(eta_c))
    eta = np.where(mask, eta_grid[order], 0.0)
    phi = np.where(mask, phi_grid[order], 0.0)
    return z, eta, phi, mask
