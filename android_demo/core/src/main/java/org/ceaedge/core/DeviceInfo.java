package org.ceaedge.core;

import java.io.BufferedReader;
import java.io.File;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * What a phone profile says about the machine, from files every Linux kernel (Android's too)
 * has: each CPU's maximum frequency ({@code /sys/devices/system/cpu/cpuN/cpufreq/cpuinfo_max_freq}),
 * grouped into clusters, and the process's resident memory ({@code /proc/self/status}: VmRSS,
 * VmHWM the peak). Roots are parameters so the tests read a constructed tree.
 */
public final class DeviceInfo {
    public static final File SYS_CPU = new File("/sys/devices/system/cpu");
    public static final File PROC_STATUS = new File("/proc/self/status");
    public static final File PROC_CLEAR_REFS = new File("/proc/self/clear_refs");

    private DeviceInfo() {
    }

    /**
     * Each CPU's maximum frequency in kHz, CPUs 0 .. cpuCount-1 under {@code sysCpu}; 0 where
     * the file is missing or unreadable (an offline core on some kernels).
     */
    public static long[] maxFrequenciesKhz(File sysCpu, int cpuCount) {
        long[] khz = new long[cpuCount];
        for (int cpu = 0; cpu < cpuCount; cpu++) {
            String text = firstLine(new File(sysCpu, "cpu" + cpu + "/cpufreq/cpuinfo_max_freq"));
            try {
                khz[cpu] = text == null ? 0 : Long.parseLong(text.trim());
            } catch (NumberFormatException unreadable) {
                khz[cpu] = 0;
            }
        }
        return khz;
    }

    /**
     * The profile's {@code machine.cores}: {count, big, little, clusters [{max_mhz, cpus}] fastest
     * first, source}. Little: the CPUs of the slowest cluster; big: all faster ones (a phone's
     * "prime" core counts as big). One cluster: all big, none little. No frequency readable:
     * big and little null.
     */
    public static Map<String, Object> cores(long[] maxKhz) {
        TreeMap<Long, Integer> clusters = new TreeMap<Long, Integer>();
        int unknown = 0;
        for (long khz : maxKhz) {
            if (khz > 0) {
                Integer seen = clusters.get(khz);
                clusters.put(khz, seen == null ? 1 : seen + 1);
            } else {
                unknown++;
            }
        }
        Map<String, Object> cores = new LinkedHashMap<String, Object>();
        cores.put("count", maxKhz.length);
        if (clusters.isEmpty()) {
            cores.put("big", null);
            cores.put("little", null);
        } else {
            int little = clusters.size() > 1 ? clusters.firstEntry().getValue() : 0;
            cores.put("big", maxKhz.length - unknown - little);
            cores.put("little", little);
        }
        List<Object> list = new ArrayList<Object>();
        for (Map.Entry<Long, Integer> cluster : clusters.descendingMap().entrySet()) {
            Map<String, Object> entry = new LinkedHashMap<String, Object>();
            entry.put("max_mhz", cluster.getKey() / 1000.0);
            entry.put("cpus", cluster.getValue());
            list.add(entry);
        }
        cores.put("clusters", list);
        if (unknown > 0) {
            cores.put("unreadable", unknown);
        }
        cores.put("source", "cpuinfo_max_freq under /sys/devices/system/cpu");
        return cores;
    }

    /** A {@code /proc/self/status} field in MiB (VmRSS, VmHWM); -1 when missing. */
    public static double statusMegabytes(File status, String field) {
        BufferedReader reader = null;
        try {
            reader = new BufferedReader(new InputStreamReader(new FileInputStream(status), "UTF-8"));
            for (String line = reader.readLine(); line != null; line = reader.readLine()) {
                if (line.startsWith(field + ":")) {
                    String[] parts = line.substring(field.length() + 1).trim().split("\\s+");
                    return Long.parseLong(parts[0]) / 1024.0; // kB
                }
            }
        } catch (IOException | NumberFormatException unreadable) {
            return -1;
        } finally {
            if (reader != null) {
                try {
                    reader.close();
                } catch (IOException ignored) {
                    // read-only
                }
            }
        }
        return -1;
    }

    /**
     * Reset the process's peak RSS (VmHWM) to its current RSS: Linux 4.0+ accepts "5" in
     * /proc/self/clear_refs. False where it is refused (old kernels, an SELinux policy): the
     * peak then counts since the process started, and the profile says so.
     */
    public static boolean resetPeak(File clearRefs) {
        try {
            OutputStream out = new FileOutputStream(clearRefs);
            try {
                out.write('5');
            } finally {
                out.close();
            }
            return true;
        } catch (IOException | SecurityException refused) {
            return false;
        }
    }

    private static String firstLine(File file) {
        BufferedReader reader = null;
        try {
            reader = new BufferedReader(new InputStreamReader(new FileInputStream(file), "UTF-8"));
            return reader.readLine();
        } catch (IOException unreadable) {
            return null;
        } finally {
            if (reader != null) {
                try {
                    reader.close();
                } catch (IOException ignored) {
                    // read-only
                }
            }
        }
    }
}
