"""Exports small PyTorch models the way users export them, for Graft's import tests.

Every model is built from the real torchvision/torch classes (ResNet with BasicBlock, the
torchvision MobileNetV2, torch.nn.TransformerEncoderLayer), randomly initialised with a fixed seed
and reduced in width so that the files stay small; the graph structure is what the tests need:
the exporter's de-duplicated initializers routed through Identity nodes, BatchNormalization kept
(training=TrainingMode.PRESERVE, do_constant_folding=False, the export for further training) or
folded into the convolutions (the default eval export), at each opset from 11 to 17.

Usage: python3 export_torch_models.py OUT_DIR
Writes OUT_DIR/<model>-<bn>-opset<N>.onnx and OUT_DIR/manifest.tsv
(file, model, bn, opset, input shape, feature tensor, sha256).
"""

import hashlib
import os
import sys

import onnx
import torch
import torchvision
from torch import nn
from torchvision.models.resnet import BasicBlock, ResNet

OPSETS = range(11, 18)


class ResNet18Narrow(ResNet):
    """torchvision's ResNet-18 (BasicBlock, [2, 2, 2, 2]) with every width divided by 8."""

    def __init__(self, num_classes=10):
        super().__init__(BasicBlock, [2, 2, 2, 2], num_classes=num_classes)
        self.inplanes = 8
        self.conv1 = nn.Conv2d(3, 8, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.layer1 = self._make_layer(BasicBlock, 8, 2)
        self.layer2 = self._make_layer(BasicBlock, 16, 2, stride=2)
        self.layer3 = self._make_layer(BasicBlock, 32, 2, stride=2)
        self.layer4 = self._make_layer(BasicBlock, 64, 2, stride=2)
        self.fc = nn.Linear(64, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)


class TransformerClassifier(nn.Module):
    """A patch embedding (Conv1d + BatchNorm1d), one TransformerEncoderLayer, mean pool, Linear."""

    def __init__(self, channels=4, d_model=16, num_classes=10):
        super().__init__()
        self.embed = nn.Conv1d(channels, d_model, kernel_size=1, bias=False)
        self.bn = nn.BatchNorm1d(d_model)
        self.encoder = nn.TransformerEncoderLayer(
            d_model, nhead=2, dim_feedforward=32, dropout=0.1, batch_first=True
        )
        self.fc = nn.Linear(d_model, num_classes)

    def forward(self, x):  # x: [batch, channels, tokens]
        h = self.bn(self.embed(x)).transpose(1, 2)
        h = self.encoder(h)
        return self.fc(h.mean(dim=1))


# name -> (constructor, input shape without the batch dimension)
MODELS = {
    "resnet18": (lambda: ResNet18Narrow(), (3, 32, 32)),
    "mobilenetv2": (
        lambda: torchvision.models.mobilenet_v2(num_classes=10, width_mult=0.25),
        (3, 32, 32),
    ),
    "transformer": (lambda: TransformerClassifier(), (4, 8)),
}

# Extra: MobileNetV2 at a fixed 96x96 input, for the preprocessing-size check.
EXTRA = [("mobilenetv2-96", "mobilenetv2", (3, 96, 96), "kept", 17)]


def export(model, shape, bn, opset, path):
    x = torch.randn(2, *shape)
    kwargs = dict(
        input_names=["input"],
        output_names=["output"],
        dynamic_axes={"input": {0: "batch_size"}, "output": {0: "batch_size"}},
        opset_version=opset,
    )
    if bn == "kept":
        kwargs.update(training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
    model.eval()
    torch.onnx.export(model, x, path, **kwargs)


def feature_tensor(path):
    """The input of the last Gemm: the features the classifier reads."""
    g = onnx.load(path).graph
    last = [n for n in g.node if n.op_type == "Gemm"][-1]
    return last.input[0]


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rows = []
    jobs = [(f"{name}-{bn}-opset{opset}", name, shape, bn, opset)
            for name, (_, shape) in MODELS.items()
            for bn in ("kept", "folded")
            for opset in OPSETS]
    jobs += EXTRA
    for stem, name, shape, bn, opset in jobs:
        torch.manual_seed(11)
        model = MODELS[name][0]()
        path = os.path.join(out, stem + ".onnx")
        try:
            export(model, shape, bn, opset, path)
        except Exception as e:  # an opset the exporter cannot write for this model
            print(f"export-torch-models: {stem} not exported: {type(e).__name__}: {e}"[:300])
            continue
        onnx.checker.check_model(onnx.load(path))
        with open(path, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        rows.append("\t".join([stem + ".onnx", name, bn, str(opset),
                               "x".join(map(str, shape)), feature_tensor(path), digest]))
    with open(os.path.join(out, "manifest.tsv"), "w") as f:
        f.write("file\tmodel\tbn\topset\tinput\tfeature_tensor\tsha256\n")
        f.write("\n".join(rows) + "\n")
    print(f"export-torch-models: {len(rows)} models in {out} "
          f"(torch {torch.__version__}, torchvision {torchvision.__version__})")


if __name__ == "__main__":
    main()
