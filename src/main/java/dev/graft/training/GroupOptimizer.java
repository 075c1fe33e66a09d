package dev.graft.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.internal.NDArrayEx;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.util.Pair;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Predicate;

/**
 * SGD with momentum, Adam or AdamW over two parameter groups: the head at the base learning rate
 * and the backbone at base x multiplier, both times the schedule's factor. Uses DJL's fused update
 * kernels, but keeps the optimizer state itself, by parameter name, so that a checkpoint can save
 * it and a resumed run continues exactly where it stopped.
 */
final class GroupOptimizer extends Optimizer {

  private static final float BETA1 = 0.9f;
  private static final float BETA2 = 0.999f;
  private static final float EPSILON = 1e-8f;

  private final String kind;
  private final double baseLr;
  private final double backboneMultiplier;
  private final float weightDecay;
  private final float momentum;
  private final Predicate<String> isHead;
  private final Map<String, String> namesById = new HashMap<>();
  private final Map<String, NDArray[]> state = new LinkedHashMap<>();
  private final Map<String, Integer> steps = new HashMap<>();
  private volatile double factor = 1.0;

  GroupOptimizer(RunSpec.Hyper hyper, Predicate<String> isHead) {
    super(new Builder());
    this.kind = hyper.optimizer();
    this.baseLr = hyper.learningRate();
    this.backboneMultiplier = hyper.backboneLrMultiplier();
    this.weightDecay = (float) hyper.weightDecay();
    this.momentum = (float) hyper.momentum();
    this.isHead = isHead;
  }

  /** Learns the names of the block's parameters, which DJL passes to us by id. */
  void bind(Block block) {
    for (Pair<String, Parameter> p : block.getParameters()) {
      namesById.put(p.getValue().getId(), p.getValue().getName());
    }
  }

  /** The schedule's factor for the coming steps. */
  void setFactor(double factor) {
    this.factor = factor;
  }

  double headLearningRate() {
    return baseLr * factor;
  }

  @Override
  public void update(String parameterId, NDArray weight, NDArray grad) {
    String name = namesById.getOrDefault(parameterId, parameterId);
    float lr = (float) (baseLr * factor * (isHead.test(name) ? 1.0 : backboneMultiplier));
    int t = steps.merge(name, 1, Integer::sum);
    NDArrayEx ex = weight.getNDArrayInternal();
    if ("SGD".equals(kind)) {
      if (momentum == 0) {
        ex.sgdUpdate(
            new NDList(weight, grad), new NDList(weight), lr, weightDecay, 1f, -1f, 0f, false);
      } else {
        NDArray buffer = state(name, weight, 1)[0];
        ex.sgdUpdate(
            new NDList(weight, grad, buffer),
            new NDList(weight),
            lr,
            weightDecay,
            1f,
            -1f,
            momentum,
            false);
      }
      return;
    }
    NDArray[] moments = state(name, weight, 2);
    double correction = Math.sqrt(1 - Math.pow(BETA2, t)) / (1 - Math.pow(BETA1, t));
    ex.adamUpdate(
        new NDList(weight, grad, moments[0], moments[1]),
        new NDList(weight),
        lr,
        (float) (lr * correction),
        weightDecay,
        1f,
        -1f,
        BETA1,
        BETA2,
        EPSILON,
        false,
        "ADAMW".equals(kind));
  }

  private NDArray[] state(String name, NDArray weight, int slots) {
    return state.computeIfAbsent(
        name,
        k -> {
          NDArray[] arrays = new NDArray[slots];
          for (int i = 0; i < slots; i++) {
            arrays[i] = weight.zerosLike();
          }
          return arrays;
        });
  }

  /** The state as a named list (names "param#slot"), with the step counts, for a checkpoint. */
  NDList saveState(NDManager manager) {
    NDList out = new NDList();
    for (Map.Entry<String, NDArray[]> e : state.entrySet()) {
      NDArray[] arrays = e.getValue();
      for (int i = 0; i < arrays.length; i++) {
        NDArray copy = arrays[i].toDevice(ai.djl.Device.cpu(), true);
        copy.attach(manager);
        copy.setName(e.getKey() + "#" + i + "#" + steps.getOrDefault(e.getKey(), 0));
        out.add(copy);
      }
    }
    return out;
  }

  /** Restores {@link #saveState}'s output onto the weights' devices. */
  void loadState(NDList saved, Block block) {
    Map<String, NDArray> weights = new HashMap<>();
    for (Pair<String, Parameter> p : block.getParameters()) {
      if (p.getValue().isInitialized()) {
        weights.put(p.getValue().getName(), p.getValue().getArray());
      }
    }
    Map<String, Map<Integer, NDArray>> slots = new LinkedHashMap<>();
    for (NDArray a : saved) {
      String[] parts = a.getName().split("#");
      String name = parts[0];
      NDArray weight = weights.get(name);
      if (weight == null) {
        continue;
      }
      // A real copy (duplicate = clone): the decoded array's memory is the direct buffer it was
      // read into, which dies with the caller's manager, and toDevice to the device it is on
      // already returns a view of that same memory, even with copy=true. Resumed runs crashed the
      // JVM (SIGSEGV in libc) at their next optimizer step or checkpoint.
      NDArray restored = a.toDevice(weight.getDevice(), false).duplicate();
      restored.attach(weight.getManager());
      slots.computeIfAbsent(name, k -> new HashMap<>()).put(Integer.parseInt(parts[1]), restored);
      steps.put(name, Integer.parseInt(parts[2]));
    }
    slots.forEach(
        (name, bySlot) -> {
          NDArray[] arrays = new NDArray[bySlot.size()];
          bySlot.forEach((i, a) -> arrays[i] = a);
          state.put(name, arrays);
        });
  }

  private static final class Builder extends OptimizerBuilder<Builder> {
    Builder() {
      setRescaleGrad(1f);
    }

    @Override
    protected Builder self() {
      return this;
    }
  }
}
