"""The lesson 01 checks accept the reference answers and reject typical wrong ones."""

import numpy as np
import pytest

from mmcourse.checks import check, registered_checks
from mmcourse.data import add_noise_at_snr, measured_snr_db


def test_lesson01_registers_its_checks():
    assert registered_checks("01") == [
        "01.add_white_noise",
        "01.class_balance",
        "01.measured_snr_db",
    ]


def _balance(labels, num_classes=10):
    return np.bincount(labels, minlength=num_classes) / len(labels)


def _global_power_noise(clean, snr_db, rng):  # wrong: one power for all clips
    power = np.mean(clean**2)
    return clean + rng.standard_normal(clean.shape) * np.sqrt(power / 10 ** (snr_db / 10))


@pytest.mark.parametrize(
    ("check_id", "function", "passes"),
    [
        ("01.class_balance", _balance, True),
        (
            "01.class_balance",
            lambda labels, num_classes=10: np.bincount(labels) / len(labels),
            False,
        ),
        ("01.class_balance", lambda labels, num_classes=10: np.full(num_classes, 0.1), False),
        ("01.measured_snr_db", measured_snr_db, True),
        (
            "01.measured_snr_db",
            lambda c, n: 10 * np.log10(np.mean(c**2) / np.mean((n - c) ** 2)),
            False,
        ),
        (
            "01.measured_snr_db",
            lambda c, n: 20 * np.log10(np.mean(c**2, -1) / np.mean((n - c) ** 2, -1)),
            False,
        ),
        ("01.add_white_noise", add_noise_at_snr, True),
        ("01.add_white_noise", _global_power_noise, False),
        ("01.add_white_noise", lambda clean, snr_db, rng: clean, False),
    ],
)
def test_checks_tell_right_from_wrong(check_id, function, passes, capsys):
    assert check(check_id, function) is passes
    printed = capsys.readouterr().out
    assert ("✓" in printed) is passes
