"""Plots of a segmentation: the silhouette curve over k and a 2-D projection of the profiles."""

from __future__ import annotations

from pathlib import Path

from mindshare.atomic_files import atomic_path
from mindshare.features.segments import Segmentation


def plot_segments(segmentation: Segmentation, folder: Path) -> None:
    """The silhouette curve over k and a 2-D projection (PCA) of the profiles coloured by segment."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    figure, axis = plt.subplots(figsize=(5, 3.2))
    axis.plot(segmentation.silhouette["k"], segmentation.silhouette["silhouette"], marker="o")
    axis.axvline(segmentation.k, color="grey", linestyle=":")
    axis.set(xlabel="k", ylabel="silhouette", title=f"k = {segmentation.k} by silhouette")
    figure.tight_layout()
    with atomic_path(folder / "segments_silhouette.png") as tmp:
        figure.savefig(tmp, format="png", dpi=90)
    plt.close(figure)
    figure, axis = plt.subplots(figsize=(6, 4.5))
    points = segmentation.projection
    for row in segmentation.summary.itertuples():
        mask = segmentation.labels.to_numpy() == row.segment
        axis.scatter(points[mask, 0], points[mask, 1], s=6, alpha=0.6, label=f"{row.segment}: {row.description}"[:60])
    axis.set(xlabel="PC 1", ylabel="PC 2", title="users by segment (PCA of the standardised profile)")
    axis.legend(fontsize=6, markerscale=2)
    figure.tight_layout()
    with atomic_path(folder / "segments_projection.png") as tmp:
        figure.savefig(tmp, format="png", dpi=90)
    plt.close(figure)
