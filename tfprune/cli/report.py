"""The plot of a CLI run's output folder (sparsity.png): per-layer sparsity and test accuracy."""

import io


def overall(summary):
    """The overall sparsity as a percentage, never 100% while a weight is left."""
    from tfprune.summary import format_percent

    return format_percent(summary["total"]["sparsity"], summary["total"]["nonzeros"])


def plot_png(summary, accuracy, title):
    """PNG bytes: per-layer sparsity bars and accuracy before/after."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r["name"] for r in summary["layers"]]
    sparsity = [100 * r["sparsity"] for r in summary["layers"]]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), gridspec_kw={"width_ratios": [3, 1]})
    bars = left.bar(names, sparsity, color="tab:blue")
    for bar, r in zip(bars, summary["layers"]):
        left.annotate(f"{r['params']:,}", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                      ha="center", va="bottom", fontsize=7)
    left.axhline(100 * summary["total"]["sparsity"], color="tab:red", linestyle="--",
                 label=f"overall {overall(summary)}")
    left.set_ylabel("sparsity (%)")
    left.set_ylim(0, 105)
    left.set_title("per-layer sparsity (labels: parameters)")
    left.legend(loc="lower right")
    left.tick_params(axis="x", rotation=30)
    labels = list(accuracy)
    right.bar(labels, [100 * accuracy[k] for k in labels], color=["tab:gray", "tab:green"][: len(labels)])
    for i, k in enumerate(labels):
        right.annotate(f"{100 * accuracy[k]:.1f}", (i, 100 * accuracy[k]), ha="center", va="bottom")
    right.set_ylim(0, 105)
    right.set_ylabel("test accuracy (%)")
    right.set_title("accuracy")
    fig.suptitle(title)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()
