"""Does Flower's simulation run offline on a 2-core machine within lesson 14's budget? (dev-time only)

Not run by the tests, and not part of the course's dependencies. Run it in a SEPARATE venv,
never in the course's own (``flwr[simulation]`` downgrades protobuf and packaging there):

    python3.11 -m venv /work/flwr-venv
    /work/flwr-venv/bin/pip install "tensorflow==2.21.0" "keras==3.15.1" "flwr[simulation]"
    /work/flwr-venv/bin/pip check
    # offline: a new network namespace with only the loopback up (Ray talks to itself over
    # 127.0.0.1; without `lo` up its GCS client times out), under the course's CPU lock:
    flock /tmp/mmcourse-tf.lock unshare -n bash -c 'ip link set lo up && exec \
        /work/flwr-venv/bin/python scripts/flower_check.py --model numpy'
    flock /tmp/mmcourse-tf.lock unshare -n bash -c 'ip link set lo up && exec \
        /work/flwr-venv/bin/python scripts/flower_check.py --model keras'

The experiment is lesson 14's FedAvg in miniature: 20 clients (one per simulated voice), each
with 50 synthetic examples of 194 features (the lesson's image + MFCC width) and 10 classes, a
194 → 64 → 10 softmax MLP, 1 local epoch of minibatch SGD (batch 16, learning rate 0.1) per
round, all clients in every round, Flower's own ``FedAvg`` strategy (weights ``n_k / n``), 2
rounds. ``--model numpy`` trains the same MLP in NumPy inside the clients (no TensorFlow in the
Ray workers); ``--model keras`` builds and trains a Keras model in each client, as a course
lesson would. Prints a timeline: import, start of the simulation, the first client call (Ray
and its workers up), the end of each round, the end; and the total wall time.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

STARTED = time.perf_counter()
EVENTS: list[tuple[str, float]] = []

NUM_CLIENTS, PER_CLIENT, DIM, HIDDEN, CLASSES = 20, 50, 194, 64, 10
BATCH, LEARNING_RATE, ROUNDS = 16, 0.1, 2


def mark(name: str) -> None:
    EVENTS.append((name, time.perf_counter() - STARTED))
    print(f"[{time.perf_counter() - STARTED:7.2f} s] {name}", flush=True)


def client_data(client: int):
    import numpy as np

    rng = np.random.default_rng(client)
    centres = np.random.default_rng(1234).normal(size=(CLASSES, DIM)).astype(np.float32)
    labels = rng.integers(0, CLASSES, PER_CLIENT)
    shift = rng.normal(scale=0.5, size=DIM).astype(np.float32)  # this client's "voice"
    features = centres[labels] + shift + rng.normal(size=(PER_CLIENT, DIM)).astype(np.float32)
    return features.astype(np.float32), labels


def initial_weights():
    import numpy as np

    rng = np.random.default_rng(0)
    limit1, limit2 = np.sqrt(6 / (DIM + HIDDEN)), np.sqrt(6 / (HIDDEN + CLASSES))
    return [rng.uniform(-limit1, limit1, (DIM, HIDDEN)).astype(np.float32),
            np.zeros(HIDDEN, np.float32),
            rng.uniform(-limit2, limit2, (HIDDEN, CLASSES)).astype(np.float32),
            np.zeros(CLASSES, np.float32)]


def numpy_sgd_epoch(weights, features, labels, seed):
    """One epoch of minibatch SGD on the softmax MLP, in NumPy."""
    import numpy as np

    w1, b1, w2, b2 = (w.copy() for w in weights)
    order = np.random.default_rng(seed).permutation(len(labels))
    for start in range(0, len(labels), BATCH):
        index = order[start:start + BATCH]
        x, y = features[index], labels[index]
        hidden = np.maximum(x @ w1 + b1, 0)
        logits = hidden @ w2 + b2
        probabilities = np.exp(logits - logits.max(1, keepdims=True))
        probabilities /= probabilities.sum(1, keepdims=True)
        delta = probabilities
        delta[np.arange(len(y)), y] -= 1
        delta /= len(y)
        grad_w2, grad_b2 = hidden.T @ delta, delta.sum(0)
        back = (delta @ w2.T) * (hidden > 0)
        grad_w1, grad_b1 = x.T @ back, back.sum(0)
        w1 -= LEARNING_RATE * grad_w1
        b1 -= LEARNING_RATE * grad_b1
        w2 -= LEARNING_RATE * grad_w2
        b2 -= LEARNING_RATE * grad_b2
    return [w1, b1, w2, b2]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=("numpy", "keras"), default="keras")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    args = parser.parse_args()

    import flwr
    from flwr.client import ClientApp, NumPyClient
    from flwr.common import Context, ndarrays_to_parameters
    from flwr.server import ServerApp, ServerAppComponents, ServerConfig
    from flwr.server.strategy import FedAvg
    from flwr.simulation import run_simulation

    mark(f"imported flwr {flwr.__version__} (python {sys.version.split()[0]})")
    model_kind = args.model

    class Client(NumPyClient):
        def __init__(self, client: int):
            self.client = client
            self.features, self.labels = client_data(client)

        def get_parameters(self, config):
            return initial_weights()

        def fit(self, parameters, config):
            if model_kind == "numpy":
                weights = numpy_sgd_epoch(parameters, self.features, self.labels, self.client)
            else:
                os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
                import keras

                model = keras.Sequential([keras.Input((DIM,)),
                                          keras.layers.Dense(HIDDEN, activation="relu"),
                                          keras.layers.Dense(CLASSES, activation="softmax")])
                model.compile(keras.optimizers.SGD(LEARNING_RATE),
                              "sparse_categorical_crossentropy")
                model.set_weights(parameters)
                model.fit(self.features, self.labels, batch_size=BATCH, epochs=1, verbose=0)
                weights = model.get_weights()
            return weights, len(self.labels), {"started": time.time()}

    def client_fn(context: Context):
        return Client(int(context.node_config["partition-id"])).to_client()

    class TimedFedAvg(FedAvg):
        def aggregate_fit(self, server_round, results, failures):
            first = min(fit.metrics["started"] for _, fit in results)
            print(f"round {server_round}: {len(results)} results, {len(failures)} failures; "
                  f"first client started {time.time() - first:.2f} s before aggregation",
                  flush=True)
            aggregated = super().aggregate_fit(server_round, results, failures)
            mark(f"round {server_round} aggregated")
            return aggregated

    def server_fn(context: Context):
        mark("server_fn called (simulation backend starting)")
        strategy = TimedFedAvg(fraction_fit=1.0, fraction_evaluate=0.0,
                               min_fit_clients=NUM_CLIENTS, min_available_clients=NUM_CLIENTS,
                               initial_parameters=ndarrays_to_parameters(initial_weights()))
        return ServerAppComponents(strategy=strategy,
                                   config=ServerConfig(num_rounds=args.rounds))

    mark("run_simulation called")
    run_simulation(server_app=ServerApp(server_fn=server_fn),
                   client_app=ClientApp(client_fn=client_fn), num_supernodes=NUM_CLIENTS,
                   backend_config={"client_resources": {"num_cpus": 1, "num_gpus": 0.0}})
    mark("run_simulation returned")
    names = dict(EVENTS)
    print(f"model={model_kind} clients={NUM_CLIENTS} rounds={args.rounds}")
    rounds = [names[f"round {r} aggregated"] for r in range(1, args.rounds + 1)
              if f"round {r} aggregated" in names]
    if len(rounds) < args.rounds:
        print("NOT ALL ROUNDS FINISHED")
        return 1
    start = names["run_simulation called"]
    print(f"import flwr: {names[EVENTS[0][0]]:.2f} s; run_simulation to round 1 done: "
          f"{rounds[0] - start:.2f} s; per later round: "
          + ", ".join(f"{b - a:.2f} s" for a, b in zip(rounds, rounds[1:], strict=False))
          + f"; shutdown {names['run_simulation returned'] - rounds[-1]:.2f} s; "
          f"total wall {names['run_simulation returned']:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
