"""What an export wrote and how the file compares with the Keras model (:class:`ExportResult`)."""

import dataclasses


def _count_ops(ops):
    counts = {}
    for op in ops:
        counts[op] = counts.get(op, 0) + 1
    return [f"{k} x{v}" if v > 1 else k for k, v in counts.items()]


class ExportError(ValueError):
    """The converter rejected the model, or the exported file failed verification."""


@dataclasses.dataclass
class ExportResult:
    """What :func:`to_tflite` wrote and how the file compares with the Keras model.

    Sizes are in bytes; ``*_gzip`` is the size after ``gzip -9`` (what a download or an
    app bundle would cost). ``dense_*`` are the same model converted with the same
    quantization but without sparse encoding (in memory, not written). ``floor_bytes`` is
    the information floor: non-zero weights x bytes per stored value (4 float32, 2 float16,
    1 int8/dynamic); it ignores indices, biases' wider types and the graph, so a real file
    is always somewhat above it.
    """

    path: str
    sparse: bool
    quantize: str
    bytes_raw: int
    bytes_gzip: int
    dense_bytes_raw: int
    dense_bytes_gzip: int
    floor_bytes: int
    weights: int
    nonzeros: int
    max_abs_error: float
    top1_agreement: float
    ops: list
    checks: dict
    layers: list
    verify_source: str
    verify_samples: int
    warnings: list = dataclasses.field(default_factory=list)

    @property
    def sparsity(self):
        """Fraction of zero weights in the Keras model (trainable weights)."""
        return 1.0 - self.nonzeros / self.weights if self.weights else 0.0

    @property
    def densify_ops(self):
        """Number of DENSIFY operators: sparse weights expanded at load time (size win only)."""
        return sum(op == "DENSIFY" for op in self.ops)

    @property
    def zeros_kept(self):
        """True if every zero of every matched Keras kernel is still a zero in the file."""
        return all(row.zeros_kept for row in self.layers)

    def report(self):
        """A short human-readable summary."""

        def kb(n):
            return "-" if n is None else f"{n / 1024:.1f} KiB"

        def ratio(a, b):
            return "-" if not a or not b else f"{a / b:.2f}x"

        mode = self.quantize or "float32"
        lines = [
            f"{self.path}: {'sparse' if self.sparse else 'dense'} {mode}, "
            f"model sparsity {self.sparsity:.1%} ({self.nonzeros}/{self.weights} non-zero weights)",
            f"  size raw   {kb(self.bytes_raw):>12}   dense {kb(self.dense_bytes_raw):>12} "
            f"(dense/this {ratio(self.dense_bytes_raw, self.bytes_raw)})   floor {kb(self.floor_bytes):>12} "
            f"(this/floor {ratio(self.bytes_raw, self.floor_bytes)})",
            f"  size gzip  {kb(self.bytes_gzip):>12}   dense {kb(self.dense_bytes_gzip):>12} "
            f"(dense/this {ratio(self.dense_bytes_gzip, self.bytes_gzip)})",
            f"  ops: {', '.join(_count_ops(self.ops))}",
        ]
        for rt, c in self.checks.items():
            if not c.loaded:
                lines.append(f"  {rt:8s}: could not run: {c.error}")
            else:
                top1 = "-" if c.top1_agreement is None else f"{c.top1_agreement:.2%}"
                lines.append(f"  {rt:8s}: max abs error {c.max_abs_error:.3g}, top-1 agreement {top1}")
        lines.append(f"  verified on {self.verify_samples} samples from {self.verify_source}")
        kept = sum(r.zeros_kept for r in self.layers)
        native = [r.layer for r in self.layers if r.sparse and not r.densified]
        lines.append(
            f"  zeros kept in {kept}/{len(self.layers)} kernels; natively sparse kernels (no DENSIFY): "
            f"{', '.join(native) if native else 'none'}"
        )
        lines.extend(f"  warning: {w}" for w in self.warnings)
        return "\n".join(lines)
