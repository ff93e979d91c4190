package dev.serval.runtime.onnx;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.OrtSession.SessionOptions;
import ai.onnxruntime.TensorInfo;
import ai.onnxruntime.ValueInfo;
import dev.serval.api.DataType;
import dev.serval.api.ErrorCode;
import dev.serval.api.ServalException;
import dev.serval.api.Tensor;
import dev.serval.api.TensorData;
import dev.serval.api.TensorSpec;
import dev.serval.runtime.ModelLoadException;
import dev.serval.runtime.ModelSession;
import dev.serval.runtime.RunControl;
import java.lang.reflect.Array;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * An {@link OrtSession} with its inputs and outputs read once at load.
 *
 * <p>Inputs in direct buffers are handed to ORT in place; heap buffers are copied once. Outputs
 * are copied once out of ORT's memory so that every native object of a run is closed before
 * {@link #run} returns: ORT has no finalizers, and a tensor left open is a native leak.
 */
final class OnnxSession implements ModelSession {
    private final OrtEnvironment environment;
    private final OrtSession session;
    private final SessionOptions options;
    private final List<TensorSpec> inputs;
    private final List<TensorSpec> outputs;
    /** Every output's name, in the model's order, and the same as the set a run asks ORT for. */
    private final List<String> allOutputNames;
    private final Set<String> allOutputs;
    private volatile boolean closed;

    OnnxSession(OrtEnvironment environment, OrtSession session, SessionOptions options)
            throws OrtException, ModelLoadException {
        this.environment = environment;
        this.session = session;
        this.options = options;
        this.inputs = specs("input", session.getInputInfo(), true);
        this.outputs = specs("output", session.getOutputInfo(), false);
        this.allOutputNames = outputs.stream().map(TensorSpec::name).toList();
        this.allOutputs = Collections.unmodifiableSet(new LinkedHashSet<>(allOutputNames));
    }

    private static List<TensorSpec> specs(String role, Map<String, NodeInfo> nodes, boolean isInput)
            throws ModelLoadException {
        List<TensorSpec> specs = new ArrayList<>(nodes.size());
        for (NodeInfo node : nodes.values()) {
            ValueInfo info = node.getInfo();
            if (!(info instanceof TensorInfo tensor)) {
                throw new ModelLoadException(role + " '" + node.getName() + "' is " + info
                        + "; Serval serves models whose inputs and outputs are tensors");
            }
            DataType type = OnnxTypes.toDataType(tensor.onnxType);
            if (type == null) {
                throw new ModelLoadException(role + " '" + node.getName() + "' has element type "
                        + tensor.onnxType + ", which the inference protocol cannot carry");
            }
            if (isInput && OnnxTypes.toJavaType(type) == null) {
                throw new ModelLoadException("input '" + node.getName() + "' has element type " + type
                        + ", which ONNX Runtime's Java API cannot create");
            }
            String[] names = tensor.getDimensionNames().clone();
            for (int i = 0; i < names.length; i++) {
                if (names[i] != null && names[i].isEmpty()) {
                    names[i] = null;
                }
            }
            specs.add(new TensorSpec(node.getName(), type, tensor.getShape(), names));
        }
        return List.copyOf(specs);
    }

    @Override
    public List<TensorSpec> inputs() {
        return inputs;
    }

    @Override
    public List<TensorSpec> outputs() {
        return outputs;
    }

    @Override
    public List<Tensor> run(List<Tensor> inputTensors, List<String> outputNames, RunControl control) {
        if (closed) {
            throw new IllegalStateException("session is closed");
        }
        // The tensors made so far, closed at the end whatever happens; ORT takes them as a map.
        OnnxTensor[] made = new OnnxTensor[inputTensors.size()];
        OrtSession.RunOptions options = null;
        try {
            Map<String, OnnxTensor> feed;
            if (made.length == 1) {
                made[0] = toOnnx(inputTensors.get(0));
                feed = Map.of(inputTensors.get(0).name(), made[0]);
            } else {
                feed = new HashMap<>(made.length * 2);
                for (int i = 0; i < made.length; i++) {
                    made[i] = toOnnx(inputTensors.get(i));
                    feed.put(inputTensors.get(i).name(), made[i]);
                }
            }
            Set<String> wanted = outputNames.equals(allOutputNames) ? allOutputs : new LinkedHashSet<>(outputNames);
            if (control != null) {
                // RunOptions is native: the control guarantees no cancel reaches it once closed.
                OrtSession.RunOptions runOptions = new OrtSession.RunOptions();
                options = runOptions;
                if (!control.attach(() -> terminate(runOptions))) {
                    throw cancelled();
                }
            }
            try (OrtSession.Result result = options == null ? session.run(feed, wanted) : session.run(feed, wanted, options)) {
                List<Tensor> out = new ArrayList<>(outputNames.size());
                for (String name : outputNames) {
                    OnnxValue value = result.get(name).orElseThrow(
                            () -> new IllegalStateException("ONNX Runtime returned no output '" + name + "'"));
                    out.add(fromOnnx(name, (OnnxTensor) value));
                }
                return out;
            }
        } catch (OrtException e) {
            if (control != null && control.isCancelled()) {
                throw cancelled();
            }
            throw OnnxErrors.runFailed(e);
        } finally {
            if (control != null) {
                control.detach();
            }
            if (options != null) {
                options.close();
            }
            for (OnnxTensor tensor : made) {
                if (tensor != null) {
                    tensor.close();
                }
            }
        }
    }

    private static void terminate(OrtSession.RunOptions options) {
        try {
            options.setTerminate(true);
        } catch (OrtException e) {
            throw new IllegalStateException("cannot terminate an ONNX Runtime run: " + OnnxErrors.describe(e), e);
        }
    }

    private static ServalException cancelled() {
        return new ServalException(ErrorCode.DEADLINE_EXCEEDED, "the run was stopped: its deadline passed");
    }

    private OnnxTensor toOnnx(Tensor tensor) throws OrtException {
        if (tensor.type() == DataType.BYTES) {
            byte[][] elements = tensor.bytesElements();
            String[] strings = new String[elements.length];
            for (int i = 0; i < elements.length; i++) {
                strings[i] = new String(elements[i], StandardCharsets.UTF_8);
            }
            return OnnxTensor.createTensor(environment, strings, tensor.shape());
        }
        ByteBuffer buffer = tensor.buffer();
        if (!buffer.isDirect()) {
            // ORT reads direct buffers in place; anything else is copied once into one here.
            buffer = ByteBuffer.allocateDirect(buffer.remaining()).put(buffer.duplicate()).flip();
        }
        return OnnxTensor.createTensor(environment, buffer.duplicate().order(ByteOrder.nativeOrder()),
                tensor.shape(), OnnxTypes.toJavaType(tensor.type()));
    }

    private static Tensor fromOnnx(String name, OnnxTensor value) throws OrtException {
        TensorInfo info = value.getInfo();
        DataType type = OnnxTypes.toDataType(info.onnxType);
        long[] shape = info.getShape();
        if (type == DataType.BYTES) {
            byte[][] elements = new byte[Math.toIntExact(info.getNumElements())][];
            flattenStrings(value.getValue(), elements, 0);
            return new Tensor(name, type, shape, new TensorData.Bytes(elements));
        }
        // getByteBuffer copies ORT's memory into a heap buffer whose order is big-endian by default.
        ByteBuffer bytes = value.getByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
        return new Tensor(name, type, shape, new TensorData.FixedWidth(bytes));
    }

    /** ORT hands string tensors back as nested arrays; flattens them row-major. */
    private static int flattenStrings(Object value, byte[][] into, int at) {
        if (value instanceof String text) {
            into[at] = text.getBytes(StandardCharsets.UTF_8);
            return at + 1;
        }
        int length = Array.getLength(value);
        for (int i = 0; i < length; i++) {
            at = flattenStrings(Array.get(value, i), into, at);
        }
        return at;
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            session.close();
        } catch (OrtException e) {
            throw new IllegalStateException("closing an ONNX Runtime session failed: " + OnnxErrors.describe(e), e);
        } finally {
            options.close();
        }
    }
}
