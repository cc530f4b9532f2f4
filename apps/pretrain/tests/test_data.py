"""The pretraining pipeline: per-sequence mask keys, batch-wide mask drawing, masks applied on device."""

import torch
from torch.utils.data import DataLoader

from eeg_io import ChannelSequenceDataset, build_index
from eeg_pretrain.data import MaskedSequences, MaskingCollate
from eeg_ssl import MaskingConfig, apply_mask


def _sets(corpus, seed=3, fixed=False, max_windows=None):
    base = ChannelSequenceDataset(build_index(corpus), 64, max_windows=max_windows, crop="leading")
    return MaskedSequences(base, seed, fixed=fixed)


def test_a_sequences_mask_does_not_depend_on_its_batch(tiny_corpus):
    dataset = _sets(tiny_corpus)
    collate = MaskingCollate(MaskingConfig(style="bert", ratio=0.2))
    dataset.set_epoch(2)
    together = collate(dataset.__getitems__([4, 9, 17]))
    for position, index in enumerate([4, 9, 17]):
        alone = collate([dataset[index]])
        assert torch.equal(alone["mask"][0], together["mask"][position])
        assert torch.equal(alone["mask_plan"].hidden[0], together["mask_plan"].hidden[position])
    assert together["mask"].sum(dim=1).tolist() == [2, 2, 2]  # round(0.2 * 12)


def test_training_masks_change_with_the_epoch_and_validation_masks_do_not(tiny_corpus):
    collate = MaskingCollate(MaskingConfig(ratio=0.4))
    train, val = _sets(tiny_corpus), _sets(tiny_corpus, fixed=True)
    masks = {}
    for epoch in (0, 1):
        for name, dataset in (("train", train), ("val", val)):
            dataset.set_epoch(epoch)
            masks[name, epoch] = collate(dataset.__getitems__(list(range(len(dataset)))))["mask"]
    assert torch.equal(masks["val", 0], masks["val", 1])
    assert not torch.equal(masks["train", 0], masks["train", 1])


def test_loader_batches_carry_the_windows_once_and_the_plan_hides_them(tiny_corpus):
    dataset = _sets(tiny_corpus, max_windows=9)
    collate = MaskingCollate(MaskingConfig(ratio=0.4))
    loader = DataLoader(dataset, batch_size=5, collate_fn=collate)
    batch = next(iter(loader))
    assert "inputs" not in batch and batch["windows"].shape == (5, 9, 64)
    inputs = apply_mask(batch["windows"], batch["mask_plan"])
    assert (inputs[batch["mask"]] == 0).all()
    assert torch.equal(inputs[~batch["mask"]], batch["windows"][~batch["mask"]])
    # the same batches from two loader workers (masks are keyed, not drawn from a worker's RNG)
    workers = list(DataLoader(dataset, batch_size=5, collate_fn=collate, num_workers=2))
    for a, b in zip(loader, workers, strict=True):
        assert torch.equal(a["windows"], b["windows"]) and torch.equal(a["mask"], b["mask"])
