package org.ceaedge.demo;

import android.os.Build;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.ceaedge.core.DeviceInfo;

/**
 * The phone as a profile's {@code machine} (cea_edge/profile/schema.py): the keys the toolkit's
 * own machine_info() writes (cpu, arch, logical_cpus, usable_cpus, isa, os, python, runtimes,
 * thread_env) and the phone's own (device, soc, abis, cores with big/little counts from each
 * CPU's maximum frequency, android {release, sdk}).
 */
final class DeviceMachine {
    private DeviceMachine() {
    }

    static Map<String, Object> describe() {
        int cpus = Runtime.getRuntime().availableProcessors();
        String device = Build.MANUFACTURER + " " + Build.MODEL;
        String soc = soc();
        Map<String, Object> machine = new LinkedHashMap<String, Object>();
        machine.put("cpu", soc + " (" + device + ")");
        machine.put("arch", Build.SUPPORTED_ABIS.length > 0 ? Build.SUPPORTED_ABIS[0] : "unknown");
        machine.put("logical_cpus", cpus);
        machine.put("usable_cpus", cpus);
        machine.put("isa", new LinkedHashMap<String, Object>());
        machine.put("os", "Android " + Build.VERSION.RELEASE + " (API " + Build.VERSION.SDK_INT + ")");
        machine.put("python", null);
        Map<String, Object> runtimes = new LinkedHashMap<String, Object>();
        runtimes.put("executorch", ModelStore.EXECUTORCH_VERSION);
        machine.put("runtimes", runtimes);
        machine.put("thread_env", new LinkedHashMap<String, Object>());
        machine.put("device", device);
        machine.put("soc", soc);
        machine.put("abis", new ArrayList<Object>(Arrays.asList((Object[]) Build.SUPPORTED_ABIS)));
        machine.put("cores", DeviceInfo.cores(DeviceInfo.maxFrequenciesKhz(DeviceInfo.SYS_CPU, cpus)));
        Map<String, Object> android = new LinkedHashMap<String, Object>();
        android.put("release", Build.VERSION.RELEASE);
        android.put("sdk", Build.VERSION.SDK_INT);
        android.put("fingerprint", Build.FINGERPRINT);
        machine.put("android", android);
        return machine;
    }

    /**
     * The system on chip: Build.SOC_MANUFACTURER / SOC_MODEL on Android 12+ (read by name: the
     * API-23 build cannot name them), else the board and hardware names the kernel reports.
     */
    private static String soc() {
        if (Build.VERSION.SDK_INT >= 31) {
            try {
                String maker = (String) Build.class.getField("SOC_MANUFACTURER").get(null);
                String model = (String) Build.class.getField("SOC_MODEL").get(null);
                if (model != null && !model.isEmpty() && !Build.UNKNOWN.equals(model)) {
                    return maker + " " + model;
                }
            } catch (ReflectiveOperationException | RuntimeException missing) {
                // fall through to the older names
            }
        }
        List<String> names = new ArrayList<String>();
        for (String name : new String[] {Build.BOARD, Build.HARDWARE}) {
            if (name != null && !name.isEmpty() && !names.contains(name)) {
                names.add(name);
            }
        }
        return names.isEmpty() ? "unknown SoC" : android.text.TextUtils.join(" / ", names);
    }
}
