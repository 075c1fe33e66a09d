package dev.graft.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import ai.djl.Device;
import org.junit.jupiter.api.Test;

/** max-concurrent-cpu-runs and max-concurrent-gpu-runs bound the runs on each device. */
class DeviceSlotsTest {

  @Test
  void eachDeviceKindHasItsOwnNumberOfSlots() {
    DeviceSlots slots = new DeviceSlots(1, 2);
    DeviceSlots.Slot cpu = slots.tryAcquire(Device.cpu());
    assertNotNull(cpu);
    assertNull(slots.tryAcquire(Device.cpu()));
    DeviceSlots.Slot gpu1 = slots.tryAcquire(Device.gpu(0));
    DeviceSlots.Slot gpu2 = slots.tryAcquire(Device.gpu(0));
    assertNotNull(gpu1);
    assertNotNull(gpu2);
    assertNull(slots.tryAcquire(Device.gpu(0)));
    cpu.close();
    assertNotNull(slots.tryAcquire(Device.cpu()));
    gpu1.close();
    assertNotNull(slots.tryAcquire(Device.gpu(0)));
    assertEquals(3, DeviceSlots.threads(1, 2));
  }
}
