package org.ceaedge.demo;

import java.util.LinkedHashMap;
import java.util.Map;
import org.ceaedge.core.Program;
import org.pytorch.executorch.EValue;
import org.pytorch.executorch.Module;
import org.pytorch.executorch.Tensor;

/**
 * A cea-edge ExecuTorch program (.pte) as the core's {@link Program}, through the official
 * ExecuTorch Java API only. Tile side, overlap and context side are read from the program's
 * constant methods ({@code tile_size}, {@code tile_overlap}, {@code context_size}), never assumed.
 *
 * <p>Methods: {@code forward} (1, 3, tile, tile) -> (1, 3, tile, tile), each tile makes its own
 * factors; {@code context} (1, 3, size, size) -> the factors (routing_bases_i,
 * residual_directions_i per adapter) then the routing maps; {@code forward_global} (tile,
 * factors...) -> restored tile with the photo's factors.
 *
 * <p>Not thread-safe: one program's methods reuse their planned memory between calls, and loading
 * a program at a thread count resets the runtime's process-wide thread pool (the AAR's JNI layer
 * and the host double alike), so the app lets one job at a time near it (core's JobGate).
 */
public final class ExecuTorchTileModel implements Program {
    /** Opens programs for the benchmark: memory-mapped, at the thread count asked for. */
    public static final Program.Opener OPENER = new Program.Opener() {
        @Override
        public Program open(String path, int threads) {
            return load(path, threads);
        }
    };

    private final Module module;
    private final int tile;
    private final int overlap;
    private final int contextSize;
    private final String precision;
    private final String preset;
    /** Shapes of the factors the last {@link #context} call returned: forward_global's inputs. */
    private long[][] factorShapes;

    /** Wrap an already-loaded program; reads its constant methods. */
    public ExecuTorchTileModel(Module module) {
        this.module = module;
        this.tile = (int) constantInt("tile_size", -1);
        if (tile < 1) {
            throw new IllegalArgumentException("this .pte is not a cea-edge export: its tile_size method is missing"
                    + " or not positive; export it with `python -m cea_edge.export --target executorch`");
        }
        this.overlap = (int) constantInt("tile_overlap", 0);
        this.contextSize = (int) constantInt("context_size", 0);
        this.precision = constantString("precision", "unknown");
        this.preset = constantString("preset", "unknown");
    }

    /** Load {@code path} (a file path: on Android copy the asset to getFilesDir() first). */
    public static ExecuTorchTileModel load(String path) {
        return new ExecuTorchTileModel(Module.load(path));
    }

    /** Load {@code path} memory-mapped with {@code threads} runtime threads (0: the runtime's default). */
    public static ExecuTorchTileModel load(String path, int threads) {
        Module module = Module.load(path, Module.LOAD_MODE_MMAP, threads);
        try {
            return new ExecuTorchTileModel(module);
        } catch (RuntimeException notCeaEdge) {
            module.destroy();
            throw notCeaEdge;
        }
    }

    /**
     * {@code Module.loadMethod} for every method the app runs, so that the first photo does not
     * pay for it: forward, and with context graphs context and forward_global. Milliseconds each.
     */
    @Override
    public Map<String, Double> loadMethods() {
        Map<String, Double> millis = new LinkedHashMap<String, Double>();
        String[] methods = contextSize > 0 ? new String[] {FORWARD, CONTEXT, FORWARD_GLOBAL} : new String[] {FORWARD};
        for (String method : methods) {
            long start = System.nanoTime();
            module.loadMethod(method);
            millis.put(method, (System.nanoTime() - start) / 1e6);
        }
        return millis;
    }

    @Override
    public int tileSize() {
        return tile;
    }

    @Override
    public int tileOverlap() {
        return overlap;
    }

    /** Side of the context method's input; 0: the program has tile mode only. */
    @Override
    public int contextSize() {
        return contextSize;
    }

    @Override
    public String precision() {
        return precision;
    }

    @Override
    public String preset() {
        return preset;
    }

    @Override
    public float[][] context(float[] chwImage, int size) {
        if (contextSize < 1) {
            throw new IllegalStateException("this program has no context method (context_size 0): use tile mode");
        }
        if (size != contextSize || chwImage.length != 3 * size * size) {
            throw new IllegalArgumentException("context image must be 3 x " + contextSize + " x " + contextSize
                    + ", got size " + size + " with " + chwImage.length + " values");
        }
        EValue[] outputs = module.execute(CONTEXT, EValue.from(Tensor.fromBlob(chwImage, new long[] {1, 3, size, size})));
        // The factors (2 per adapter) come first, then one routing map per adapter.
        if (outputs.length % 3 != 0) {
            throw new IllegalStateException("context returned " + outputs.length + " values, not 3 per adapter");
        }
        int factorCount = outputs.length / 3 * 2;
        float[][] factors = new float[factorCount][];
        long[][] shapes = new long[factorCount][];
        for (int i = 0; i < factorCount; i++) {
            Tensor tensor = outputs[i].toTensor();
            factors[i] = tensor.getDataAsFloatArray();
            shapes[i] = tensor.shape();
        }
        factorShapes = shapes;
        return factors;
    }

    @Override
    public float[] run(float[] chwTile, int tileSide, float[][] factors) {
        if (tileSide != tile || chwTile.length != 3 * tile * tile) {
            throw new IllegalArgumentException("tile must be 3 x " + tile + " x " + tile + ", got side " + tileSide
                    + " with " + chwTile.length + " values");
        }
        EValue image = EValue.from(Tensor.fromBlob(chwTile, new long[] {1, 3, tile, tile}));
        EValue[] outputs;
        if (factors == null) {
            outputs = module.execute(FORWARD, image);
        } else {
            long[][] shapes = factorShapes;
            if (shapes == null || shapes.length != factors.length) {
                throw new IllegalStateException("factors must come from this model's context() call");
            }
            EValue[] inputs = new EValue[1 + factors.length];
            inputs[0] = image;
            for (int i = 0; i < factors.length; i++) {
                inputs[1 + i] = EValue.from(Tensor.fromBlob(factors[i], shapes[i]));
            }
            outputs = module.execute(FORWARD_GLOBAL, inputs);
        }
        return outputs[0].toTensor().getDataAsFloatArray();
    }

    /** Free the native program; the model is unusable afterwards. */
    @Override
    public void destroy() {
        module.destroy();
    }

    private long constantInt(String method, long fallback) {
        EValue[] values = constant(method);
        return values == null ? fallback : values[0].toInt();
    }

    private String constantString(String method, String fallback) {
        EValue[] values = constant(method);
        return values == null ? fallback : values[0].toStr();
    }

    /** The values a constant method returns; null when the program lacks it (older exports). */
    private EValue[] constant(String method) {
        try {
            EValue[] values = module.execute(method);
            return values.length == 0 ? null : values;
        } catch (RuntimeException missing) {
            return null;
        }
    }
}
