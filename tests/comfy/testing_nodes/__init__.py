"""A small testing node pack for the harness: nodes that succeed, raise, sleep, run out of memory and make
images without models. Loaded into the real ComfyUI next to Tower Sentinel; never shipped."""

from __future__ import annotations

import time

import torch


class TowerTestImage:
    """A solid/gradient/noise IMAGE batch made without any model."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "width": ("INT", {"default": 64, "min": 1, "max": 16384}),
            "height": ("INT", {"default": 64, "min": 1, "max": 16384}),
            "batch_size": ("INT", {"default": 1, "min": 1, "max": 64}),
            "kind": (["gradient", "black", "noise", "nan", "blurred", "flat"],),
            "seed": ("INT", {"default": 0, "min": 0, "max": 2**31}),
        }}

    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "make"
    CATEGORY = "TowerTesting"

    def make(self, width, height, batch_size, kind, seed):
        g = torch.Generator().manual_seed(seed)
        if kind == "black":
            img = torch.zeros(batch_size, height, width, 3)
        elif kind == "flat":
            img = torch.full((batch_size, height, width, 3), 0.5)
        elif kind == "nan":
            img = torch.full((batch_size, height, width, 3), float("nan"))
        else:
            ys = torch.linspace(0, 1, height).view(1, height, 1, 1)
            xs = torch.linspace(0, 1, width).view(1, 1, width, 1)
            # smooth texture (no 8-px grid, which would read as JPEG blockiness)
            yy = torch.arange(height, dtype=torch.float32).view(-1, 1)
            xx = torch.arange(width, dtype=torch.float32).view(1, -1)
            texture = 0.5 + 0.5 * torch.sin(2 * torch.pi * xx / 11) * torch.sin(2 * torch.pi * yy / 13)
            img = (0.3 * ys + 0.3 * xs + 0.4 * texture.view(1, height, width, 1)).expand(batch_size, height, width, 3)
            img = img * torch.tensor([1.0, 0.7, 0.4]).view(1, 1, 1, 3)
            if kind == "noise":
                img = img + 0.1 * torch.randn(batch_size, height, width, 3, generator=g)
            if kind == "blurred":
                k = 9
                pad = torch.nn.functional.pad(img.permute(0, 3, 1, 2), (k // 2,) * 4, mode="replicate")
                img = torch.nn.functional.avg_pool2d(pad, k, stride=1).permute(0, 2, 3, 1)
            img = img.clamp(0, 1).contiguous()
        return (img,)


class TowerTestSucceed:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT", {"default": 1, "min": -10**9, "max": 10**9})}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"
    CATEGORY = "TowerTesting"
    OUTPUT_NODE = True

    def run(self, value):
        return {"ui": {"value": [value]}, "result": (value,)}


class TowerTestRaise:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"message": ("STRING", {"default": "testing failure"}),
                             "value": ("INT", {"default": 0, "min": -10**9, "max": 10**9})},
                "optional": {"image": ("IMAGE",)}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"
    CATEGORY = "TowerTesting"
    OUTPUT_NODE = True

    def run(self, message, value, image=None):
        raise RuntimeError(f"{message} (value {value})")


class TowerTestSleep:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"seconds": ("FLOAT", {"default": 0.1, "min": 0.0, "max": 600.0, "step": 0.01}),
                             "value": ("INT", {"default": 0, "min": -10**9, "max": 10**9})}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"
    CATEGORY = "TowerTesting"
    OUTPUT_NODE = True

    def run(self, seconds, value):
        import comfy.model_management as mm

        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:  # interruptible, like a sampler
            mm.throw_exception_if_processing_interrupted()
            time.sleep(min(0.02, max(0.0, deadline - time.monotonic())))
        return {"ui": {"value": [value]}, "result": (value,)}


class TowerTestSampler:
    """Stands in for a sampler that runs out of memory at large sizes (width x height x batch above a budget)."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "width": ("INT", {"default": 512, "min": 8, "max": 16384}),
            "height": ("INT", {"default": 512, "min": 8, "max": 16384}),
            "steps": ("INT", {"default": 20, "min": 1, "max": 200}),
            "budget_pixels": ("INT", {"default": 1536 * 1536, "min": 1, "max": 2**40}),
        }}

    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "sample"
    CATEGORY = "TowerTesting"

    def sample(self, width, height, steps, budget_pixels):
        need = width * height
        if need >= budget_pixels:
            gib = need * 4 * 64 / 2**30
            raise torch.OutOfMemoryError(
                f"CUDA out of memory. Tried to allocate {gib:.2f} GiB. GPU 0 has a total capacity of 11.76 GiB "
                f"of which 1.02 GiB is free.")
        return (torch.full((1, 8, 8, 3), 0.5),)


class TowerTestLoadModel:
    """Stands in for a checkpoint loader: fails like ComfyUI does when the file is missing."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"ckpt_name": ("STRING", {"default": "missing_model.safetensors"})}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "load"
    CATEGORY = "TowerTesting"
    OUTPUT_NODE = True

    def load(self, ckpt_name):
        path = f"/models/checkpoints/{ckpt_name}"
        raise FileNotFoundError(f"[Errno 2] No such file or directory: '{path}'")


class TowerTestText:
    """Shows a STRING (and an optional BOOLEAN) in the prompt's history: what a prompt node handed on."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"text": ("STRING", {"default": ""})},
                "optional": {"flag": ("BOOLEAN", {"default": False})}}

    RETURN_TYPES = ()
    FUNCTION = "show"
    CATEGORY = "TowerTesting"
    OUTPUT_NODE = True

    def show(self, text, flag=False):
        return {"ui": {"text": [text], "flag": [bool(flag)]}}


NODE_CLASS_MAPPINGS = {
    "TowerTestImage": TowerTestImage,
    "TowerTestSucceed": TowerTestSucceed,
    "TowerTestRaise": TowerTestRaise,
    "TowerTestSleep": TowerTestSleep,
    "TowerTestSampler": TowerTestSampler,
    "TowerTestLoadModel": TowerTestLoadModel,
    "TowerTestText": TowerTestText,
}
