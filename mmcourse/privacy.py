"""Privacy (lesson 14): what features reveal, federated averaging, DP-SGD, membership inference.

* :func:`speaker_probe` — a logistic-regression probe on frozen embeddings (does an encoder
  trained only for digits also tell *who* spoke?);
* :func:`fedavg` — FedAvg's weighted average of client weights (McMahan et al. 2017), NumPy;
  :func:`federated_training` — the whole loop over simulated clients with a Keras model,
  :func:`local_training` / :func:`centralised_training` — the two baselines it is compared with;
* :func:`clip_and_noise` — DP-SGD's aggregation (Abadi et al. 2016) in NumPy: clip each
  example's gradient to L2 norm ``clip_norm``, add them up, add Gaussian noise of standard
  deviation ``noise_multiplier · clip_norm``, divide by the (expected) batch size;
  :class:`DPSGDClassifier` — the same thing inside a Keras ``train_step`` (per-example gradients,
  Poisson sampling of each batch); :func:`dp_epsilon` — ε for (ε, δ)-DP from the RDP accountant
  of Google's ``dp-accounting`` library (no hand-rolled formula);
* :func:`per_example_losses`, :func:`membership_advantage`, :func:`choose_threshold` — the
  loss-threshold membership-inference attack of Yeom et al. (2018) and its advantage
  ``TPR − FPR``.

Arrays: features float32 ``(N, D)``, labels int ``(N,)``; model weights a list of arrays (what
``model.get_weights()`` returns).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np

from mmcourse import _validate as check
from mmcourse._reuse import reuse
from mmcourse.env import quiet_tensorflow, set_seed

__all__ = [
    "speaker_probe",
    "fedavg",
    "split_by_client",
    "federated_training",
    "local_training",
    "centralised_training",
    "accuracy",
    "clip_and_noise",
    "DPSGDClassifier",
    "build_classifier",
    "train_dp_sgd",
    "dp_epsilon",
    "per_example_losses",
    "membership_advantage",
    "choose_threshold",
]

DEFAULT_DELTA = 1e-5
# Integer RDP orders (plus a few small fractional ones would only add absl warnings for
# non-converging series); dp-accounting's own default list is used when none is given.
RDP_ORDERS = tuple(range(2, 65)) + (80, 96, 128, 256)


# ----------------------------------------------------------------------------- validation
def _features(value, name: str) -> np.ndarray:
    return check.array(value, name, ndim=2, kind="numeric", finite=True,
                       what="a 2-D array of features (N, D)").astype(np.float32)


def _xy(features, labels, features_name: str = "features", labels_name: str = "labels"):
    features = _features(features, features_name)
    labels = check.labels(labels, labels_name)
    check.same_length({features_name: features, labels_name: labels})
    if len(labels) == 0:
        raise check.value_error(features_name, "at least one sample", features)
    return features, labels


# ----------------------------------------------------------------------------- what features reveal
def speaker_probe(train_embeddings, train_speakers, test_embeddings, test_speakers, *,
                  regularisation: float = 1.0) -> dict:
    """Train a multinomial logistic-regression probe embedding → speaker; score it.

    train_embeddings/test_embeddings: float ``(N, D)`` frozen embeddings; train_speakers/
    test_speakers: int ``(N,)`` speaker ids (the test speakers must all occur in training).
    Features are standardised with the training mean and std. Returns ``{"accuracy": float,
    "chance": float (the majority-speaker share of the test set), "num_speakers": int}``.
    """
    from sklearn.linear_model import LogisticRegression

    train_x, train_y = _xy(train_embeddings, train_speakers, "train_embeddings", "train_speakers")
    test_x, test_y = _xy(test_embeddings, test_speakers, "test_embeddings", "test_speakers")
    if train_x.shape[1] != test_x.shape[1]:
        raise check.value_error("test_embeddings", f"{train_x.shape[1]} columns like "
                                "train_embeddings", test_x)
    unseen = sorted(set(test_y.tolist()) - set(train_y.tolist()))
    if unseen:
        raise check.value_error("test_speakers", "speakers that also occur in train_speakers",
                                test_y, f"speakers {unseen[:5]} never seen in training")
    regularisation = check.number(regularisation, "regularisation", minimum=0.0,
                                  exclusive_minimum=True)
    mean, std = train_x.mean(axis=0), train_x.std(axis=0) + 1e-6
    probe = LogisticRegression(C=regularisation, max_iter=2000)
    probe.fit((train_x - mean) / std, train_y)
    predicted = probe.predict((test_x - mean) / std)
    counts = np.bincount(test_y)
    return {"accuracy": float(np.mean(predicted == test_y)),
            "chance": float(counts.max() / len(test_y)),
            "num_speakers": int(len(np.unique(train_y)))}


# ----------------------------------------------------------------------------- federated averaging
def _weight_list(value, name: str) -> list[np.ndarray]:
    items = check.sequence(value, name, expected="a list of weight arrays (model.get_weights())")
    arrays = []
    for index, item in enumerate(items):
        arrays.append(check.array(item, f"{name}[{index}]", kind="numeric", finite=True,
                                  what="a weight array").astype(np.float64))
    return arrays


def fedavg(client_weights, client_sizes) -> list[np.ndarray]:
    """FedAvg's server step: ``w = Σ_k (n_k / n) · w_k`` for every weight array.

    client_weights: one list of weight arrays per client (all with the same shapes);
    client_sizes: ``(K,)`` the number of training examples ``n_k`` of each client (> 0; ``n`` is
    their sum). Returns a list of float32 arrays, the new global weights.
    """
    clients = check.sequence(client_weights, "client_weights",
                             expected="a non-empty list with one list of weight arrays per client")
    weights = [_weight_list(item, f"client_weights[{index}]") for index, item in enumerate(clients)]
    sizes = check.array(client_sizes, "client_sizes", ndim=1, kind="numeric", finite=True,
                        what="a 1-D array of client sizes").astype(np.float64)
    if len(sizes) != len(weights):
        raise ValueError(f"client_sizes must have one entry per client ({len(weights)}). "
                         f"Received: client_sizes of length {len(sizes)}")
    if np.any(sizes <= 0):
        raise check.value_error("client_sizes", "positive numbers of examples", sizes,
                                f"{sizes.tolist()}")
    shapes = [array.shape for array in weights[0]]
    for index, item in enumerate(weights[1:], start=1):
        if [array.shape for array in item] != shapes:
            raise check.value_error(f"client_weights[{index}]",
                                    f"weight arrays of the shapes {shapes} (like client 0)", item,
                                    f"shapes {[array.shape for array in item]}")
    fractions = sizes / sizes.sum()
    return [np.sum([fraction * item[layer] for fraction, item in zip(fractions, weights,
                                                                       strict=True)],
                   axis=0).astype(np.float32)
            for layer in range(len(shapes))]


def split_by_client(features, labels, clients) -> list[tuple[np.ndarray, np.ndarray]]:
    """Group samples by client id → ``[(features_k, labels_k), ...]`` in ascending client id."""
    features, labels = _xy(features, labels)
    clients = check.array(clients, "clients", ndim=1, kind="int", what="a 1-D array of client ids")
    check.same_length({"features": features, "clients": clients})
    return [(features[clients == client], labels[clients == client])
            for client in np.unique(clients)]


def accuracy(model, features, labels) -> float:
    """Accuracy of a Keras classifier (softmax outputs) on ``(features, labels)``."""
    features, labels = _xy(features, labels)
    scores = np.asarray(model(features, training=False))
    return float(np.mean(scores.argmax(axis=1) == labels))


def _keras():
    quiet_tensorflow()
    import keras

    return keras


def build_classifier(input_dim: int, *, hidden_units: int = 64, num_classes: int = 10,
                     optimizer: str = "sgd", learning_rate: float = 0.1, seed: int = 0):
    """A small MLP ``input_dim → Dense(hidden_units, relu) → Dense(num_classes, softmax)``,
    compiled with SGD (``optimizer="sgd"``, no momentum: no optimizer state to average) or Adam."""
    keras = _keras()
    input_dim = check.positive_int(input_dim, "input_dim")
    hidden_units = check.positive_int(hidden_units, "hidden_units")
    num_classes = check.integer(num_classes, "num_classes", minimum=2)
    optimizer = check.one_of(optimizer, "optimizer", ("sgd", "adam"))
    learning_rate = check.number(learning_rate, "learning_rate", minimum=0.0, exclusive_minimum=True)
    set_seed(check.seed(seed))
    model = keras.Sequential([keras.Input((input_dim,)),
                              keras.layers.Dense(hidden_units, activation="relu"),
                              keras.layers.Dense(num_classes, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate) if optimizer == "sgd"
                  else keras.optimizers.Adam(learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _check_clients(clients) -> list[tuple[np.ndarray, np.ndarray]]:
    items = check.sequence(clients, "clients", expected="a non-empty list of (features, labels) "
                           "pairs, one per client")
    result = []
    for index, item in enumerate(items):
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise check.type_error(f"clients[{index}]", "a (features, labels) pair", item)
        result.append(_xy(*item, f"clients[{index}] features", f"clients[{index}] labels"))
    if len({features.shape[1] for features, _ in result}) > 1:
        raise ValueError("every client's features must have the same number of columns. "
                         f"Received: {[features.shape[1] for features, _ in result]}")
    return result


_LOCAL_SGD = None


def _local_sgd_function():
    """One ``tf.function`` running minibatch SGD for K clients at once, each on its own data.

    The K models are stacked along a first axis (kernels ``(K, in, out)``); the loss is the sum
    over clients of each client's mean batch loss, so (with plain SGD, no momentum) every client's
    parameters move exactly as if it trained alone — K small models, one graph.
    """
    global _LOCAL_SGD
    if _LOCAL_SGD is not None:
        return _LOCAL_SGD
    tf = quiet_tensorflow()

    @tf.function(reduce_retracing=True)
    def local_sgd(parameters, features, labels, batches, masks, learning_rate):
        # parameters: [kernel (K, in, out), bias (K, out), ...]; features (K, n_max, D);
        # labels (K, n_max); batches/masks (steps, K, B)
        def loss_of(parameters, x, y, mask):
            activation = x
            count = len(parameters) // 2
            for layer in range(count):
                kernel, bias = parameters[2 * layer], parameters[2 * layer + 1]
                activation = tf.matmul(activation, kernel) + bias[:, None, :]
                if layer < count - 1:
                    activation = tf.nn.relu(activation)
            losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=activation)
            per_client = tf.reduce_sum(losses * mask, axis=1) / tf.maximum(
                tf.reduce_sum(mask, axis=1), 1.0)
            return tf.reduce_sum(per_client)

        parameters = list(parameters)
        for step in tf.range(tf.shape(batches)[0]):
            x = tf.gather(features, batches[step], batch_dims=1)
            y = tf.gather(labels, batches[step], batch_dims=1)
            with tf.GradientTape() as tape:
                tape.watch(parameters)
                loss = loss_of(parameters, x, y, masks[step])
            gradients = tape.gradient(loss, parameters)
            parameters = [p - learning_rate * g for p, g in zip(parameters, gradients, strict=True)]
        return parameters

    _LOCAL_SGD = local_sgd
    return local_sgd


def _pad_clients(clients):
    sizes = np.array([len(labels) for _, labels in clients])
    width = int(sizes.max())
    dim = clients[0][0].shape[1]
    features = np.zeros((len(clients), width, dim), np.float32)
    labels = np.zeros((len(clients), width), np.int64)
    for index, (x, y) in enumerate(clients):
        features[index, :len(y)], labels[index, :len(y)] = x, y
    return features, labels, sizes


def _batch_plan(sizes, epochs: int, batch_size: int, rng):
    """Indices ``(steps, K, B)`` and masks: each client shuffles its own examples every epoch and
    walks through them in batches of ``batch_size``; a client with fewer examples has empty
    (all-masked) batches at the end of an epoch, i.e. it takes fewer steps."""
    width = int(sizes.max())
    per_epoch = -(-width // batch_size)
    batches = np.zeros((epochs * per_epoch, len(sizes), batch_size), np.int64)
    masks = np.zeros((epochs * per_epoch, len(sizes), batch_size), np.float32)
    for epoch in range(epochs):
        for client, size in enumerate(sizes):
            order = np.concatenate([rng.permutation(size), np.zeros(per_epoch * batch_size - size,
                                                                    np.int64)])
            valid = np.arange(per_epoch * batch_size) < size
            rows = slice(epoch * per_epoch, (epoch + 1) * per_epoch)
            batches[rows, client] = order.reshape(per_epoch, batch_size)
            masks[rows, client] = valid.reshape(per_epoch, batch_size)
    return batches, masks


def _logits_weights(model) -> list[np.ndarray]:
    """The model's weights, checked to be a stack of Dense layers ending in softmax."""
    keras = _keras()
    for layer in model.layers:
        if not isinstance(layer, keras.layers.Dense) or not layer.use_bias:
            raise check.type_error("build_model()", "a model of Dense layers with biases "
                                   "(e.g. mmcourse.privacy.build_classifier)", layer)
    return model.get_weights()


def _train_clients(model, weights, clients_padded, sizes, epochs, batch_size, learning_rate, rng):
    """Start every client from ``weights`` (a list, or one list per client), train ``epochs``
    local epochs of minibatch SGD; return one list of weights per client."""
    features, labels, _ = clients_padded
    count = len(sizes)
    if isinstance(weights[0], list):
        stacked = [np.stack([client[i] for client in weights]) for i in range(len(weights[0]))]
    else:
        stacked = [np.repeat(w[None], count, axis=0) for w in weights]
    batches, masks = _batch_plan(sizes, epochs, batch_size, rng)
    result = _local_sgd_function()(stacked, features, labels, batches, masks,
                                   np.float32(learning_rate))
    result = [np.asarray(p) for p in result]
    return [[p[client] for p in result] for client in range(count)]


def federated_training(build_model: Callable, clients, *, rounds: int = 10,
                       local_epochs: int = 1, batch_size: int = 16, learning_rate: float = 0.1,
                       seed: int = 0, evaluate_on=None) -> tuple[object, dict]:
    """FedAvg over simulated clients: every round each client starts from the global weights,
    trains ``local_epochs`` epochs of minibatch SGD (``learning_rate``) on its own data only and
    sends its weights back; the server averages them with :func:`fedavg` (weights ``n_k / n``).
    All clients take part in every round (the clients run side by side in one TensorFlow graph,
    each on its own data — the result is what K separate machines would compute).

    build_model: ``build_model() -> Keras model`` of Dense layers ending in softmax (e.g.
    :func:`build_classifier`): it gives the architecture and the initial weights; clients:
    ``[(features_k, labels_k), ...]``; evaluate_on: optional ``(features, labels)`` scored after
    every round (pass the **validation** split). Returns ``(global model, history)`` with
    ``history = {"round": [...], "accuracy": [...], "seconds": float}``.
    """
    clients = _check_clients(clients)
    rounds = check.positive_int(rounds, "rounds")
    local_epochs = check.positive_int(local_epochs, "local_epochs")
    batch_size = check.positive_int(batch_size, "batch_size")
    learning_rate = check.number(learning_rate, "learning_rate", minimum=0.0,
                                 exclusive_minimum=True)
    seed = check.seed(seed)
    if evaluate_on is not None:
        evaluate_on = _xy(*evaluate_on, "evaluate_on features", "evaluate_on labels")
    started = time.perf_counter()
    model = build_model()
    weights = _logits_weights(model)
    padded = _pad_clients(clients)
    sizes = padded[2]
    rng = np.random.default_rng(seed)
    history = {"round": [], "accuracy": []}
    for number in range(1, rounds + 1):
        updates = _train_clients(model, weights, padded, sizes, local_epochs, batch_size,
                                 learning_rate, rng)
        weights = fedavg(updates, sizes)
        if evaluate_on is not None:
            model.set_weights(weights)
            history["round"].append(number)
            history["accuracy"].append(accuracy(model, *evaluate_on))
    model.set_weights(weights)
    history["seconds"] = time.perf_counter() - started
    return model, history


def centralised_training(build_model: Callable, features, labels, *, epochs: int = 10,
                         batch_size: int = 16, learning_rate: float = 0.1, seed: int = 0,
                         evaluate_on=None):
    """The baseline with all the data in one place: the same minibatch SGD for ``epochs`` epochs
    on the pooled data. Returns ``(model, history)`` like :func:`federated_training` (one entry
    per epoch)."""
    model, history = federated_training(build_model, [(features, labels)], rounds=epochs,
                                        local_epochs=1, batch_size=batch_size,
                                        learning_rate=learning_rate, seed=seed,
                                        evaluate_on=evaluate_on)
    return model, history


def local_training(build_model: Callable, clients, *, epochs: int = 10, batch_size: int = 16,
                   learning_rate: float = 0.1, seed: int = 0, evaluate_on) -> np.ndarray:
    """The other baseline: every client trains alone (``epochs`` epochs on its own data, no
    sharing at all), all from the same initial weights. Returns float ``(K,)``: each client's
    model's accuracy on ``evaluate_on``."""
    clients = _check_clients(clients)
    epochs = check.positive_int(epochs, "epochs")
    batch_size = check.positive_int(batch_size, "batch_size")
    learning_rate = check.number(learning_rate, "learning_rate", minimum=0.0,
                                 exclusive_minimum=True)
    seed = check.seed(seed)
    evaluate_on = _xy(*evaluate_on, "evaluate_on features", "evaluate_on labels")
    model = build_model()
    weights = _logits_weights(model)
    padded = _pad_clients(clients)
    rng = np.random.default_rng(seed)
    trained = _train_clients(model, weights, padded, padded[2], epochs, batch_size,
                             learning_rate, rng)
    scores = []
    for client_weights in trained:
        model.set_weights(client_weights)
        scores.append(accuracy(model, *evaluate_on))
    return np.array(scores)


# ----------------------------------------------------------------------------- DP-SGD
def clip_and_noise(per_example_gradients, clip_norm: float, noise_multiplier: float, noise,
                   *, batch_size: float | None = None) -> np.ndarray:
    """DP-SGD's private gradient from per-example gradients (NumPy reference).

    per_example_gradients: float ``(B, D)`` (one flattened gradient per example); noise: float
    ``(D,)`` standard-normal draws (given, so the result is deterministic). Each row ``g_i`` is
    scaled to ``g_i · min(1, C / ||g_i||₂)``; the rows are summed; ``noise_multiplier · C ·
    noise`` is added; the sum is divided by ``batch_size`` (default ``B``; with Poisson sampling
    pass the *expected* batch size ``q · N``). Returns float64 ``(D,)``.
    """
    gradients = check.array(per_example_gradients, "per_example_gradients", ndim=2,
                            kind="numeric", finite=True,
                            what="a 2-D array (batch, parameters)").astype(np.float64)
    clip_norm = check.number(clip_norm, "clip_norm", minimum=0.0, exclusive_minimum=True)
    noise_multiplier = check.number(noise_multiplier, "noise_multiplier", minimum=0.0)
    noise = check.array(noise, "noise", shape=(gradients.shape[1],), kind="numeric", finite=True,
                        what="a 1-D array of standard-normal draws, one per parameter")
    divisor = float(len(gradients)) if batch_size is None else check.number(
        batch_size, "batch_size", minimum=0.0, exclusive_minimum=True)
    norms = np.linalg.norm(gradients, axis=1, keepdims=True)
    factors = np.minimum(1.0, clip_norm / np.maximum(norms, 1e-12))
    total = (gradients * factors).sum(axis=0) + noise_multiplier * clip_norm * noise
    return total / divisor


def dp_epsilon(noise_multiplier: float, sampling_probability: float, steps: int, *,
               delta: float = DEFAULT_DELTA) -> float:
    """ε of DP-SGD for ``(ε, delta)``-DP: ``steps`` compositions of the Poisson-subsampled
    Gaussian mechanism (rate ``sampling_probability``, noise ``noise_multiplier``), from the RDP
    accountant of ``dp-accounting`` (``dp_accounting.rdp.RdpAccountant``). ``noise_multiplier=0``
    → ``inf`` (no privacy)."""
    noise_multiplier = check.number(noise_multiplier, "noise_multiplier", minimum=0.0)
    sampling_probability = check.number(sampling_probability, "sampling_probability",
                                        minimum=0.0, maximum=1.0, exclusive_minimum=True)
    steps = check.positive_int(steps, "steps")
    delta = check.number(delta, "delta", minimum=0.0, maximum=1.0, exclusive_minimum=True)
    if noise_multiplier == 0.0:
        return float("inf")
    from dp_accounting import dp_event
    from dp_accounting.rdp import rdp_privacy_accountant

    accountant = rdp_privacy_accountant.RdpAccountant(list(RDP_ORDERS))
    event = dp_event.PoissonSampledDpEvent(sampling_probability,
                                           dp_event.GaussianDpEvent(noise_multiplier))
    accountant.compose(dp_event.SelfComposedDpEvent(event, steps))
    return float(accountant.get_epsilon(delta))


def _make_dp_class():
    keras = _keras()
    import tensorflow as tf

    @keras.saving.register_keras_serializable(package="mmcourse")
    class DPSGDClassifier(keras.Sequential):
        """A ``keras.Sequential`` of ``Dense`` layers whose ``train_step`` is DP-SGD (Abadi et al.
        2016).

        Each step receives the **whole** training set ``(x (N, D), y (N,))`` and draws its batch
        itself by Poisson sampling (each example independently with probability
        ``sampling_probability`` — the sampling the accountant assumes). It needs every
        example's gradient norm: for a ``Dense`` layer ``z = a W + b`` the gradient of example
        ``i`` is the outer product ``a_i ⊗ δ_i`` (``δ_i = ∂loss_i/∂z_i``), whose squared norm is
        ``(||a_i||² + 1)·||δ_i||²`` with the bias — so one backward pass gives all the norms
        (Goodfellow 2015), without materialising per-example gradients. Each gradient is scaled
        by ``min(1, clip_norm / norm_i)``; the scaled sum is ``aᵀ (factor·δ)``; Gaussian noise of
        std ``noise_multiplier · clip_norm`` is added and the result divided by the expected
        batch size ``q · N``. :func:`clip_and_noise` is the NumPy reference (tested against
        this step). ``clip_norm=None`` with ``noise_multiplier=0`` is the non-private baseline:
        the same Poisson-sampled SGD without clipping or noise.
        """

        def __init__(self, layers=None, *, clip_norm: float | None = 1.0,
                     noise_multiplier: float = 1.0, sampling_probability: float = 0.1,
                     noise_seed: int = 0, **kwargs):
            super().__init__(layers, **kwargs)
            self.clip_norm = None if clip_norm is None else check.number(
                clip_norm, "clip_norm", minimum=0.0, exclusive_minimum=True, allow_none=True)
            self.noise_multiplier = check.number(noise_multiplier, "noise_multiplier", minimum=0.0)
            if self.clip_norm is None and self.noise_multiplier > 0:
                raise check.value_error("noise_multiplier", "0 when clip_norm is None (the "
                                        "noise is scaled by clip_norm)", noise_multiplier)
            self.sampling_probability = check.number(
                sampling_probability, "sampling_probability", minimum=0.0, maximum=1.0,
                exclusive_minimum=True)
            self.noise_seed = check.seed(noise_seed, "noise_seed")
            self.seed_generator = keras.random.SeedGenerator(self.noise_seed)

        def _dense_layers(self):
            layers = list(self.layers)
            for layer in layers:
                if not isinstance(layer, keras.layers.Dense) or not layer.use_bias:
                    raise check.type_error("layers", "Dense layers with a bias only (the "
                                           "per-example norms are computed for Dense layers)",
                                           layer)
            if not layers or getattr(layers[-1].activation, "__name__", "") != "softmax":
                raise check.value_error("layers", "a stack of Dense layers whose last one has "
                                        "activation='softmax'", layers[-1] if layers else layers)
            return layers

        def private_gradients(self, x, y, sampled):
            """DP-SGD's gradients for the examples with ``sampled`` (float (N,)) = 1, and the
            mean loss. Returns ``(gradients, variables, probabilities, losses)``."""
            layers = self._dense_layers()
            inputs, outputs = [], []
            with tf.GradientTape() as tape:
                activation = tf.convert_to_tensor(x)
                for layer in layers:
                    inputs.append(activation)
                    pre_activation = tf.matmul(activation, layer.kernel) + layer.bias
                    tape.watch(pre_activation)
                    outputs.append(pre_activation)
                    activation = layer.activation(pre_activation)
                # the last layer is softmax: the cross-entropy from its logits (Keras's own
                # loss on probabilities reads cached logits the tape cannot follow)
                losses = tf.nn.sparse_softmax_cross_entropy_with_logits(
                    labels=tf.cast(y, "int64"), logits=outputs[-1])
                total_loss = tf.reduce_sum(losses)
            activation = tf.nn.softmax(outputs[-1])
            deltas = tape.gradient(total_loss, outputs)  # row i: d loss_i / d z_i
            squared = tf.add_n([(tf.reduce_sum(a * a, axis=1) + 1.0) * tf.reduce_sum(d * d, axis=1)
                                for a, d in zip(inputs, deltas, strict=True)])
            if self.clip_norm is None:
                factors = tf.ones_like(squared)
            else:
                factors = tf.minimum(1.0, self.clip_norm / tf.maximum(tf.sqrt(squared), 1e-12))
            weights = factors * sampled
            expected_batch = self.sampling_probability * tf.cast(tf.shape(x)[0], weights.dtype)
            scale = 0.0 if self.clip_norm is None else self.noise_multiplier * self.clip_norm
            gradients, variables = [], []
            for layer, a, d in zip(layers, inputs, deltas, strict=True):
                weighted = d * weights[:, None]
                for variable, total in ((layer.kernel, tf.matmul(a, weighted, transpose_a=True)),
                                        (layer.bias, tf.reduce_sum(weighted, axis=0))):
                    noise = keras.random.normal(tuple(variable.shape), seed=self.seed_generator)
                    gradients.append((total + scale * noise) / expected_batch)
                    variables.append(variable)
            return gradients, variables, activation, losses

        def train_step(self, data):
            x, y = data[0], data[1]
            sampled = tf.cast(keras.random.uniform((tf.shape(x)[0],), seed=self.seed_generator)
                              < self.sampling_probability, "float32")
            gradients, variables, probabilities, losses = self.private_gradients(x, y, sampled)
            self.optimizer.apply(gradients, variables)
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(tf.reduce_mean(losses))
                else:
                    metric.update_state(y, probabilities)
            return {metric.name: metric.result() for metric in self.metrics}

        def get_config(self):
            config = super().get_config()
            config.update(clip_norm=self.clip_norm, noise_multiplier=self.noise_multiplier,
                          sampling_probability=self.sampling_probability,
                          noise_seed=self.noise_seed)
            return config

        @classmethod
        def from_config(cls, config, custom_objects=None):
            config = dict(config)
            options = {key: config.pop(key) for key in
                       ("clip_norm", "noise_multiplier", "sampling_probability", "noise_seed")
                       if key in config}
            model = super().from_config(config, custom_objects=custom_objects)
            fresh = cls(**options)  # validates the options the same way as __init__
            for key in options:
                setattr(model, key, getattr(fresh, key))
            model.seed_generator = keras.random.SeedGenerator(model.noise_seed)
            return model

    return DPSGDClassifier


_DP_CLASS = None


def DPSGDClassifier(*args, **kwargs):  # noqa: N802 - a class factory (Keras imported lazily)
    """Build a :class:`DPSGDClassifier` (see ``_make_dp_class``): ``DPSGDClassifier([layers...],
    clip_norm=1.0, noise_multiplier=1.0, sampling_probability=0.1, noise_seed=0)``."""
    global _DP_CLASS
    if _DP_CLASS is None:
        _DP_CLASS = _make_dp_class()
    return _DP_CLASS(*args, **kwargs)


_DP_TRAINERS: dict = {}  # settings -> one compiled DPSGDClassifier, reused across seeds
_DP_TRAINERS_MAX = 64


def _dp_model(input_dim, hidden_units, num_classes, clip_norm, noise_multiplier,
              sampling_probability, seed):
    keras = _keras()
    return DPSGDClassifier(
        [keras.Input((input_dim,)), keras.layers.Dense(hidden_units, activation="relu"),
         keras.layers.Dense(num_classes, activation="softmax")],
        clip_norm=clip_norm, noise_multiplier=noise_multiplier,
        sampling_probability=sampling_probability, noise_seed=seed)


def train_dp_sgd(features, labels, *, noise_multiplier: float, steps: int = 300,
                 sampling_probability: float = 0.1, clip_norm: float | None = 1.0,
                 learning_rate: float = 0.5, hidden_units: int = 64, num_classes: int = 10,
                 seed: int = 0, delta: float = DEFAULT_DELTA) -> tuple[object, float]:
    """Train a small MLP with DP-SGD (:class:`DPSGDClassifier`, plain SGD) for ``steps`` steps.

    Returns ``(model, epsilon)``; ``epsilon`` is :func:`dp_epsilon` for these settings and
    ``delta`` (``inf`` without noise). ``seed`` sets the initial weights, the Poisson sampling
    and the noise. The training itself runs in one compiled trainer per setting (architecture,
    ``clip_norm``, ``noise_multiplier``, ``sampling_probability``, ``learning_rate``,
    ``steps``), reused across seeds and data of the same shape: it starts from the new model's
    initial weights and a fresh noise/sampling state, so it trains exactly like a new model
    (tested); the returned model is a new one holding the trained weights.
    """
    keras = _keras()
    import tensorflow as tf

    features, labels = _xy(features, labels)
    steps = check.positive_int(steps, "steps")
    seed = check.seed(seed)
    hidden_units = check.positive_int(hidden_units, "hidden_units")
    num_classes = check.integer(num_classes, "num_classes", minimum=2)
    learning_rate = check.number(learning_rate, "learning_rate", minimum=0.0,
                                 exclusive_minimum=True)
    settings = (features.shape[1], hidden_units, num_classes, clip_norm, noise_multiplier,
                sampling_probability)
    set_seed(seed)
    model = _dp_model(*settings, seed)  # validates the DP options; its weights start the run
    key = (*settings, learning_rate, steps, features.shape[0])

    def make_trainer():
        trainer = _dp_model(*settings, seed)
        trainer.compile(optimizer=keras.optimizers.SGD(learning_rate),
                        loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                        steps_per_execution=math.gcd(steps, 50))
        return trainer

    trainer = reuse(_DP_TRAINERS, key, make_trainer, limit=_DP_TRAINERS_MAX)
    trainer.set_weights(model.get_weights())
    trainer.noise_seed = seed
    trainer.seed_generator.state.assign(keras.random.SeedGenerator(seed).state.value)
    if trainer.optimizer.built:
        trainer.optimizer.iterations.assign(0)
    dataset = tf.data.Dataset.from_tensors((features, labels)).repeat(steps)
    trainer.fit(dataset, epochs=1, verbose=0, shuffle=False)
    model.set_weights(trainer.get_weights())
    model.compile(optimizer=keras.optimizers.SGD(learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  steps_per_execution=math.gcd(steps, 50))
    if clip_norm is None:  # no clipping: no sensitivity bound, no privacy
        return model, float("inf")
    return model, dp_epsilon(noise_multiplier, sampling_probability, steps, delta=delta)


# ----------------------------------------------------------------------------- membership inference
def per_example_losses(model, features, labels) -> np.ndarray:
    """Cross-entropy ``−log p(y_i | x_i)`` of each example, float64 ``(N,)`` (what the attacker
    observes, e.g. through an API that returns probabilities)."""
    features, labels = _xy(features, labels)
    probabilities = np.asarray(model(features, training=False), dtype=np.float64)
    picked = probabilities[np.arange(len(labels)), labels]
    return -np.log(np.maximum(picked, 1e-12))


def _losses(value, name: str) -> np.ndarray:
    result = check.array(value, name, ndim=1, kind="numeric", finite=True,
                         what="a 1-D array of losses").astype(np.float64)
    if len(result) == 0:
        raise check.value_error(name, "at least one loss", result)
    return result


def membership_advantage(member_losses, nonmember_losses, threshold: float) -> float:
    """The loss-threshold attack (Yeom et al. 2018): guess "member" when ``loss <= threshold``.

    Returns its membership advantage ``TPR − FPR`` = (share of members guessed member) − (share
    of non-members guessed member), in [−1, 1]; 0 means the attack learns nothing.
    """
    members = _losses(member_losses, "member_losses")
    nonmembers = _losses(nonmember_losses, "nonmember_losses")
    threshold = check.number(threshold, "threshold")
    return float(np.mean(members <= threshold) - np.mean(nonmembers <= threshold))


def choose_threshold(member_losses, nonmember_losses) -> float:
    """The threshold with the largest advantage on these (calibration) losses.

    Candidates: every observed loss. Choose it on one half of the members and non-members and
    report :func:`membership_advantage` on the other half — the maximum on the same losses is
    optimistic.
    """
    members = _losses(member_losses, "member_losses")
    nonmembers = _losses(nonmember_losses, "nonmember_losses")
    candidates = np.unique(np.concatenate([members, nonmembers]))
    members_sorted, nonmembers_sorted = np.sort(members), np.sort(nonmembers)
    true_positive = np.searchsorted(members_sorted, candidates, side="right") / len(members)
    false_positive = np.searchsorted(nonmembers_sorted, candidates, side="right") / len(nonmembers)
    return float(candidates[int(np.argmax(true_positive - false_positive))])

