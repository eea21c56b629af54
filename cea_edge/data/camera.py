"""Camera-realistic degradations: what a scene, a lens, a sensor and a phone's image pipeline do to a photo.

The idealised primitives of ``degradations.py`` (white Gaussian noise in sRGB, thin synthetic
streaks) teach a model little about real photos. Here a clean sRGB photo is taken back to
linear light and degraded step by step in the order light meets each stage:

1. **Scene** -- haze: I = J t + A (1 - t), t = exp(-beta d), over a smooth depth d (far at the
   top, plus a random field) and a tinted airlight A; rain: two layers of streaks (near: long,
   wide, blurred; far: short, thin) of varied length, width, angle, brightness and opacity,
   alpha-blended toward the streak colour.
2. **Optics** -- motion blur along a random camera trajectory (a random walk with momentum,
   splatted into the kernel), or defocus (an anti-aliased disk); blur happens in linear light.
3. **Exposure** -- low light: the sensor sees the scene scaled by 1/30 .. 1/3.
4. **Sensor** -- the colour filter array: linear RGB divided by the white-balance gains (sensors
   see green best), an RGGB mosaic, then Poisson-Gaussian noise, variance = shot * x + read^2,
   with log(read) tied linearly to log(shot) as for real sensors across ISO settings.
5. **ISP** -- bilinear demosaicing (which makes the noise spatially correlated), white balance
   (in low light off by a few percent: a colour cast), digital gain (in low light it amplifies the noise and
   may leave the photo under-exposed), optional denoising (smears the noise into blotches) and
   sharpening (lifts it again), the sRGB tone curve.
6. **JPEG** at a random quality.

The training sampler ``camera_degradation`` mixes these with clean and mildly degraded inputs
(so a clean photo comes back unharmed), blind white Gaussian noise (the standard benchmarks'
model) and the idealised sampler of ``degradations.py`` (so the ``aio-synth`` families stay
covered); every input is rounded to 8 bits, as photos are. All ranges are data (``RANGES``,
``MIX``; a run may re-weight the mix: ``mix_with``). Images are float32 (H, W, 3) in [0, 1];
every random choice comes from the Generator.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy import ndimage

from cea_edge.data.degradations import (
    DegradationCase,
    add_noise,
    blend,
    jpeg,
    random_composite,
    random_degradation,
    region_mask,
    smooth_field,
)
from cea_edge.errors import CeaError


@dataclass(frozen=True)
class CameraRanges:
    """The ranges every random camera draws from (uniform unless said; log: uniform in log)."""

    shot: tuple[float, float] = (1e-4, 1.2e-2)  # log; Poisson gain on linear [0, 1] (ISO ~50 .. ~6400)
    read_slope: float = 1.6  # log(read^2) = slope * log(shot) + offset + N(0, read_jitter)
    read_offset: float = 0.6
    read_jitter: float = 0.25
    wb_red: tuple[float, float] = (1.6, 2.4)  # sensor-to-sRGB white-balance gains (green = 1)
    wb_blue: tuple[float, float] = (1.3, 2.0)
    wb_error: float = 0.08  # in low light the ISP's white balance is off by up to this fraction per channel
    isp_denoise: tuple[float, float] = (0.5, 1.3)  # Gaussian sigma in px, applied with probability 0.5
    sharpen: tuple[float, float] = (0.0, 0.8)  # unsharp-mask amount, applied with probability 0.5
    jpeg_quality: tuple[int, int] = (55, 96)  # skipped with probability 0.2
    haze_beta: tuple[float, float] = (0.3, 1.6)
    airlight: tuple[float, float] = (0.55, 1.0)
    airlight_tint: float = 0.08  # per-channel spread: bluish, grey or yellowish skies
    rain_drops: tuple[float, float] = (0.0008, 0.008)  # drop density per pixel, near layer
    rain_length: tuple[int, int] = (6, 36)
    rain_width: tuple[float, float] = (0.3, 1.6)  # Gaussian sigma across a streak, px
    rain_opacity: tuple[float, float] = (0.15, 0.7)
    rain_angle: float = 0.45  # radians either side of vertical
    motion_length: tuple[float, float] = (3.0, 17.0)  # trajectory extent, px
    defocus_radius: tuple[float, float] = (1.0, 4.5)
    exposure: tuple[float, float] = (1 / 30, 1 / 3)  # log; light reaching the sensor in low light
    under_exposure: tuple[float, float] = (0.06, 0.6)  # log; how bright the saved photo ends up vs the scene (linear)


RANGES = CameraRanges()

# The training mix: (kind, probability). "camera" is a scene/optics/exposure degradation through
# the whole camera; "camera_noise" the camera alone at a random ISO; "synthetic" the idealised sampler.
MIX: tuple[tuple[str, float], ...] = (
    ("clean", 0.05), ("mild", 0.07), ("gaussian", 0.25), ("camera_noise", 0.13), ("synthetic", 0.25), ("camera", 0.25))
# Kinds a run may add with `train --mix KIND=WEIGHT` (weight 0 in MIX): "composite" is the idealised
# sampler's composite family alone (a fine-tune that needs more of it than synthetic's 20 %).
MIX_KINDS = tuple(kind for kind, _ in MIX) + ("composite",)


def mix_with(overrides: dict[str, float]) -> tuple[tuple[str, float], ...]:
    """MIX with the given kinds' weights replaced (or added); weights are relative, refused when
    unknown, negative, not finite or all zero."""
    for kind, weight in overrides.items():
        if kind not in MIX_KINDS:
            raise CeaError(f"--mix {kind}: unknown kind; choose from {', '.join(MIX_KINDS)}")
        if not (np.isfinite(weight) and weight >= 0):
            raise CeaError(f"--mix {kind}={weight:g}: a weight must be finite and >= 0")
    mix = dict(MIX) | overrides
    if not sum(mix.values()) > 0:
        raise CeaError("--mix: every weight is zero; at least one kind must have a positive weight")
    return tuple((kind, weight) for kind, weight in mix.items() if weight > 0)


# --- colour ------------------------------------------------------------------------------------


def srgb_to_linear(image: np.ndarray) -> np.ndarray:
    image = np.clip(image, 0.0, 1.0)
    return np.where(image <= 0.04045, image / 12.92, ((image + 0.055) / 1.055) ** 2.4).astype(np.float32)


def linear_to_srgb(image: np.ndarray) -> np.ndarray:
    image = np.clip(image, 0.0, 1.0)
    return np.where(image <= 0.0031308, image * 12.92, 1.055 * image ** (1 / 2.4) - 0.055).astype(np.float32)


def _log_uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    return float(np.exp(rng.uniform(np.log(bounds[0]), np.log(bounds[1]))))


# --- 1. scene -------------------------------------------------------------------------------


def haze(linear: np.ndarray, rng: np.random.Generator, beta: float, airlight: float,
         ranges: CameraRanges = RANGES) -> np.ndarray:
    """Scattering over a smooth depth map: far (top of the frame, random hills) is hazier."""
    height, width = linear.shape[:2]
    vertical = np.linspace(1.0, 0.2, height, dtype=np.float32)[:, None]
    depth = 0.55 * vertical + 0.45 * smooth_field(rng, (height, width), cells=int(rng.integers(2, 6)))
    transmission = np.exp(-beta * depth)[..., None]
    tint = airlight * (1.0 + rng.uniform(-ranges.airlight_tint, ranges.airlight_tint, 3)).astype(np.float32)
    return linear * transmission + srgb_to_linear(np.clip(tint, 0, 1)) * (1.0 - transmission)


def _streak_layer(rng: np.random.Generator, shape: tuple[int, int], density: float, length: float, angle: float,
                  width: float) -> np.ndarray:
    """Streaks in [0, 1]: drops of random brightness smeared along ``angle`` and widened by ``width``."""
    drops = (rng.random(shape, dtype=np.float32) < density) * rng.uniform(0.5, 1.0, shape).astype(np.float32)
    size = int(length) | 1
    kernel = np.zeros((size, size), np.float32)
    centre = size // 2
    for t in np.linspace(-centre, centre, 3 * size):  # brighter in the middle of a streak
        y, x = int(round(centre + t * np.cos(angle))), int(round(centre + t * np.sin(angle)))
        kernel[y, x] = max(kernel[y, x], 1.0 - 0.6 * abs(t) / max(centre, 1))
    streaks = ndimage.convolve(drops, kernel, mode="wrap")
    streaks = ndimage.gaussian_filter(streaks, width, mode="wrap")
    return np.clip(streaks / max(float(np.percentile(streaks, 99.9)), 1e-3), 0.0, 1.0)


def rain(linear: np.ndarray, rng: np.random.Generator, density: float, opacity: float,
         ranges: CameraRanges = RANGES) -> np.ndarray:
    """Two layers of streaks with one wind direction: near (long, wide, soft) and far (short, thin)."""
    shape = linear.shape[:2]
    wind = rng.uniform(-ranges.rain_angle, ranges.rain_angle)
    brightness = rng.uniform(0.6, 1.0)
    out = linear
    for scale, layer_density in ((1.0, density), (0.45, density * rng.uniform(1.0, 3.0))):
        length = scale * rng.uniform(*ranges.rain_length)
        width = scale * rng.uniform(*ranges.rain_width)
        streaks = _streak_layer(rng, shape, layer_density, max(length, 3.0), wind + rng.normal(0, 0.05), width)
        alpha = (opacity * scale ** 0.5 * streaks)[..., None]
        out = out * (1.0 - alpha) + brightness * alpha
    return out


# --- 2. optics ------------------------------------------------------------------------------


def motion_kernel(rng: np.random.Generator, extent: float) -> np.ndarray:
    """A camera-shake kernel: a random walk with momentum over ``extent`` px, splatted bilinearly."""
    steps = 64
    velocity = rng.normal(0, 1, 2)
    points = [np.zeros(2)]
    for _ in range(steps):
        velocity = 0.85 * velocity + rng.normal(0, 0.6, 2)  # momentum: shake is smooth, with jerks
        if rng.uniform() < 0.05:
            velocity = velocity + rng.normal(0, 2.0, 2)
        points.append(points[-1] + velocity)
    path = np.array(points)
    path -= path.mean(axis=0)
    span = max(float(np.abs(path).max()), 1e-6)
    path *= (extent / 2) / span
    size = int(np.ceil(extent)) | 1
    size += 2
    kernel = np.zeros((size, size), np.float32)
    for y, x in path + size // 2:
        y0, x0 = int(np.floor(y)), int(np.floor(x))
        fy, fx = y - y0, x - x0
        for dy, dx, weight in ((0, 0, (1 - fy) * (1 - fx)), (0, 1, (1 - fy) * fx), (1, 0, fy * (1 - fx)), (1, 1, fy * fx)):
            if 0 <= y0 + dy < size and 0 <= x0 + dx < size:
                kernel[y0 + dy, x0 + dx] += weight
    return kernel / kernel.sum()


def defocus_kernel(radius: float) -> np.ndarray:
    """A disk of ``radius`` px with anti-aliased rim (4x4 supersampling)."""
    extent = int(np.ceil(radius)) + 1
    fine = (np.arange(-extent * 4, extent * 4 + 4) + 0.5) / 4 - 0.5  # sub-pixel centres
    yy, xx = np.meshgrid(fine, fine, indexing="ij")
    inside = (yy * yy + xx * xx <= radius * radius).astype(np.float32)
    side = inside.shape[0] // 4
    kernel = inside[: side * 4, : side * 4].reshape(side, 4, side, 4).mean(axis=(1, 3))
    return kernel / kernel.sum()


def optical_blur(linear: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    return ndimage.convolve(linear, kernel[..., None], mode="reflect")


# --- 4./5. sensor and ISP ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Camera:
    """One camera at one setting: what its sensor adds and what its ISP does."""

    shot: float  # Poisson gain: variance shot * x on linear [0, 1]
    read: float  # read-noise standard deviation
    wb_gains: tuple[float, float, float]  # sensor -> sRGB white balance
    wb_error: tuple[float, float, float] = (1.0, 1.0, 1.0)  # the ISP's misestimate (1: right)
    denoise: float = 0.0  # ISP denoising sigma, px (0: off)
    sharpen: float = 0.0  # unsharp-mask amount
    quality: int | None = None  # JPEG quality (None: not compressed)


def random_camera(rng: np.random.Generator, ranges: CameraRanges = RANGES, noise_scale: float = 1.0) -> Camera:
    shot = _log_uniform(rng, ranges.shot) * noise_scale
    read = float(np.sqrt(np.exp(ranges.read_slope * np.log(shot) + ranges.read_offset + rng.normal(0, ranges.read_jitter))))
    gains = (rng.uniform(*ranges.wb_red), 1.0, rng.uniform(*ranges.wb_blue))
    denoise = rng.uniform(*ranges.isp_denoise) if rng.uniform() < 0.5 else 0.0
    sharpen = rng.uniform(*ranges.sharpen) if rng.uniform() < 0.5 else 0.0
    quality = int(rng.integers(*ranges.jpeg_quality)) if rng.uniform() < 0.8 else None
    return Camera(shot, read, gains, denoise=denoise, sharpen=sharpen, quality=quality)


def mosaic(linear: np.ndarray) -> np.ndarray:
    """(H, W, 3) -> (H, W) RGGB Bayer samples."""
    raw = linear[..., 1].copy()
    raw[0::2, 0::2] = linear[0::2, 0::2, 0]
    raw[1::2, 1::2] = linear[1::2, 1::2, 2]
    return raw


_GREEN = np.array([[0, 0.25, 0], [0.25, 1, 0.25], [0, 0.25, 0]], np.float32)
_RED_BLUE = np.array([[0.25, 0.5, 0.25], [0.5, 1, 0.5], [0.25, 0.5, 0.25]], np.float32)


def demosaic(raw: np.ndarray) -> np.ndarray:
    """Bilinear demosaicing of an RGGB mosaic: each channel's missing samples from its neighbours."""
    height, width = raw.shape
    masks = np.zeros((3, height, width), np.float32)
    masks[0, 0::2, 0::2] = 1
    masks[1, 0::2, 1::2] = masks[1, 1::2, 0::2] = 1
    masks[2, 1::2, 1::2] = 1
    channels = [ndimage.convolve(raw * masks[c], _GREEN if c == 1 else _RED_BLUE, mode="mirror") for c in range(3)]
    return np.stack(channels, axis=-1)


def sensor_noise(raw: np.ndarray, rng: np.random.Generator, camera: Camera) -> np.ndarray:
    """Poisson-Gaussian noise (its Gaussian approximation) on sensor samples: variance shot * x + read^2."""
    sigma = np.sqrt(camera.shot * np.maximum(raw, 0.0) + camera.read ** 2)
    return raw + rng.standard_normal(raw.shape, dtype=np.float32) * sigma


def capture(linear: np.ndarray, rng: np.random.Generator, camera: Camera, gain: float = 1.0) -> np.ndarray:
    """Linear scene light on the sensor -> the sRGB photo the phone saves (before JPEG).

    gain: the ISP's digital gain (low light: >1, amplifying the noise with the signal).
    """
    gains = np.asarray(camera.wb_gains, np.float32)
    raw = sensor_noise(mosaic(np.clip(linear / gains, 0.0, 1.0)), rng, camera)
    rgb = demosaic(raw) * (gains * np.asarray(camera.wb_error, np.float32)) * gain
    if camera.denoise:
        rgb = ndimage.gaussian_filter(rgb, (camera.denoise, camera.denoise, 0))
    if camera.sharpen:
        rgb = rgb + camera.sharpen * (rgb - ndimage.gaussian_filter(rgb, (1.0, 1.0, 0)))
    return linear_to_srgb(rgb)


def save_jpeg(image: np.ndarray, camera: Camera) -> np.ndarray:
    return jpeg(image, camera.quality) if camera.quality is not None else image


# --- the whole path, and the training sampler ---------------------------------------------------


SCENE_STEPS = ("haze", "rain", "motion", "defocus", "lowlight")


def photograph(image: np.ndarray, rng: np.random.Generator, steps: tuple[str, ...], camera: Camera,
               ranges: CameraRanges = RANGES) -> np.ndarray:
    """``image`` (clean sRGB) as a phone photographs it through ``steps`` (of SCENE_STEPS, applied in
    physical order whatever the order given) and ``camera``."""
    linear = srgb_to_linear(image)
    if "haze" in steps:
        linear = haze(linear, rng, rng.uniform(*ranges.haze_beta), rng.uniform(*ranges.airlight), ranges)
    if "rain" in steps:
        linear = rain(linear, rng, _log_uniform(rng, ranges.rain_drops), rng.uniform(*ranges.rain_opacity), ranges)
    if "motion" in steps:
        linear = optical_blur(linear, motion_kernel(rng, rng.uniform(*ranges.motion_length)))
    if "defocus" in steps:
        linear = optical_blur(linear, defocus_kernel(rng.uniform(*ranges.defocus_radius)))
    gain = 1.0
    if "lowlight" in steps:
        exposure = _log_uniform(rng, ranges.exposure)
        linear = linear * exposure
        gain = _log_uniform(rng, ranges.under_exposure) / exposure
        cast = tuple(float(v) for v in 1.0 + rng.uniform(-ranges.wb_error, ranges.wb_error, 3))
        # The camera raises its analog gain (ISO) in the dark: per unit of the little light it gets,
        # the sensor's noise is that of the chosen camera, so after the digital gain the photo is
        # 1-3x as noisy as the same camera in daylight -- the noise the exposure gain amplifies.
        boost = rng.uniform(1.0, 3.0)
        camera = replace(camera, wb_error=cast, shot=camera.shot * exposure * boost ** 2,
                         read=camera.read * exposure * boost)
    return save_jpeg(capture(linear, rng, camera, gain), camera)


def quantize_8bit(image: np.ndarray) -> np.ndarray:
    """What a saved photo holds: values clipped and rounded to the 8-bit grid."""
    return (np.round(np.clip(image, 0.0, 1.0) * 255.0) / 255.0).astype(np.float32)


def _mild(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    draw = rng.uniform()
    if draw < 0.4:
        return add_noise(image, rng, rng.uniform(1.0, 10.0))
    if draw < 0.7:
        return photograph(image, rng, (), random_camera(rng, noise_scale=0.15))
    return jpeg(np.clip(image, 0, 1), int(rng.integers(75, 96)))


def camera_degradation(image: np.ndarray, rng: np.random.Generator,
                       mix: tuple[tuple[str, float], ...] = MIX) -> np.ndarray:
    """One training input for a clean sRGB patch, drawn from ``mix``; rounded to 8 bits."""
    kinds, weights = zip(*mix)
    kind = kinds[int(rng.choice(len(kinds), p=np.asarray(weights) / sum(weights)))]
    if kind == "clean":
        degraded = image
    elif kind == "mild":
        degraded = _mild(image, rng)
    elif kind == "gaussian":
        degraded = add_noise(image, rng, rng.uniform(0.0, 55.0))
    elif kind == "camera_noise":
        degraded = photograph(image, rng, (), random_camera(rng))
    elif kind == "synthetic":
        degraded = random_degradation(image, rng)
    elif kind == "composite":
        degraded = random_composite(image, rng)
    else:
        count = 1 if rng.uniform() < 0.6 else int(rng.integers(2, 4))
        steps = tuple(rng.choice(SCENE_STEPS, size=count, replace=False))
        if "motion" in steps and "defocus" in steps:
            steps = tuple(s for s in steps if s != "defocus")
        degraded = photograph(image, rng, steps, random_camera(rng, noise_scale=rng.uniform(0.05, 1.0)))
    return quantize_8bit(degraded)


# --- the photo evaluation suite's cases (``aio-photo``) ----------------------------------------

# Fixed strengths: degenerate ranges draw one value, so a case varies only where a scene would
# (where the streaks fall, the depth map's hills, the noise), through the suite's seeded Generator.
EVAL_RANGES = replace(RANGES, haze_beta=(0.7, 0.7), airlight=(0.75, 0.75), airlight_tint=0.04, rain_drops=(0.004, 0.004),
                      rain_length=(20, 20), rain_width=(0.8, 0.8), rain_opacity=(0.5, 0.5), motion_length=(9.0, 9.0),
                      defocus_radius=(2.5, 2.5), exposure=(0.1, 0.1), under_exposure=(0.2, 0.2))
# A phone camera at a daylight setting and at a high one (ISO ~400 / ~3200), JPEG quality 90.
DAYLIGHT = Camera(shot=1.5e-3, read=3e-3, wb_gains=(2.0, 1.0, 1.6), sharpen=0.3, quality=90)
HIGH_ISO = Camera(shot=8e-3, read=1.2e-2, wb_gains=(2.0, 1.0, 1.6), denoise=0.7, sharpen=0.3, quality=90)


def _photographed(steps: tuple[str, ...], camera: Camera = DAYLIGHT):
    return lambda image, rng: quantize_8bit(photograph(image, rng, steps, camera, EVAL_RANGES))


def _white_noise(sigma: float):
    return lambda image, rng: quantize_8bit(add_noise(image, rng, sigma))


def _region(steps: tuple[str, ...]):
    def apply(image, rng):
        daylight = photograph(image, rng, (), DAYLIGHT, EVAL_RANGES)
        degraded = photograph(image, rng, steps, DAYLIGHT, EVAL_RANGES)
        return quantize_8bit(blend(daylight, degraded, region_mask(rng, image.shape[:2], "blob")))
    return apply


def _photo_cases() -> dict[str, DegradationCase]:
    cases = [
        DegradationCase("clean", "clean", lambda image, rng: image),
        DegradationCase("noise5", "mild", _white_noise(5)),
        DegradationCase("noise15", "single", _white_noise(15)),
        DegradationCase("noise25", "single", _white_noise(25)),
        DegradationCase("noise50", "single", _white_noise(50)),
        DegradationCase("camera", "single", _photographed(())),
        DegradationCase("camera_high_iso", "single", _photographed((), HIGH_ISO)),
        DegradationCase("rain", "single", _photographed(("rain",))),
        DegradationCase("haze", "single", _photographed(("haze",))),
        DegradationCase("motion", "single", _photographed(("motion",))),
        DegradationCase("defocus", "single", _photographed(("defocus",))),
        DegradationCase("lowlight", "single", _photographed(("lowlight",))),
        DegradationCase("jpeg", "single", lambda image, rng: jpeg(image, 25)),
        DegradationCase("haze_region", "spatial", _region(("haze",))),
        DegradationCase("rain_region", "spatial", _region(("rain",))),
        DegradationCase("shadow", "spatial", _region(("lowlight",))),
        DegradationCase("low+haze", "composite", _photographed(("haze", "lowlight"))),
        DegradationCase("haze+rain", "composite", _photographed(("haze", "rain"))),
        DegradationCase("low+rain", "composite", _photographed(("rain", "lowlight"))),
        DegradationCase("motion+low", "composite", _photographed(("motion", "lowlight"))),
        DegradationCase("low+haze+rain", "composite", _photographed(("haze", "rain", "lowlight"))),
    ]
    return {case.name: case for case in cases}


PHOTO_CASES = _photo_cases()
