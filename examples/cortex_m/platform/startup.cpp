// Startup for Cortex-M firmware under qemu (mps2-an386/an500/an505): vector table, reset
// handler, fault handlers, and the few C/C++ runtime symbols that -nostartfiles and the
// absence of libstdc++ leave undefined. Symbols come from ld/kiln_cortex_m_common.ld.
#include <cstddef>
#include <cstdint>

#include "semihost.hpp"

extern "C" {
// Linker script symbols (addresses only; never read as values).
extern std::uint32_t __data_start[], __data_end[], __data_load[];
extern std::uint32_t __bss_start[], __bss_end[];
extern std::uint32_t __stack_top[], __stack_limit[];
using InitFn = void (*)();
extern InitFn __preinit_array_start[], __preinit_array_end[];
extern InitFn __init_array_start[], __init_array_end[];

int main();
void Reset_Handler();
void HardFault_Handler();
void Default_Handler();
// Weak: a firmware that enables the SysTick interrupt defines its own (examples/cortex_m/icount/).
void SysTick_Handler() __attribute__((weak, alias("Default_Handler")));

// -nostartfiles drops crti/crtn/crtbegin, which define these; newlib and GCC may refer to them.
void _init() {}
void _fini() {}
void* __dso_handle = nullptr;
}

namespace {

// Reads a memory-mapped System Control Block register.
inline volatile std::uint32_t& reg(std::uint32_t addr) {
  return *reinterpret_cast<volatile std::uint32_t*>(addr);
}
constexpr std::uint32_t kCPACR = 0xE000ED88;  // coprocessor access control
constexpr std::uint32_t kCFSR = 0xE000ED28;   // configurable fault status (MMFSR|BFSR|UFSR)
constexpr std::uint32_t kHFSR = 0xE000ED2C;   // hard fault status
constexpr std::uint32_t kMMFAR = 0xE000ED34;  // memory manage fault address
constexpr std::uint32_t kBFAR = 0xE000ED38;   // bus fault address

void print_reg(const char* name, std::uint32_t value) {
  kiln_fw::print(name);
  kiln_fw::print_hex32(value);
}

}  // namespace

// The vector table: initial SP, then handlers. Only the 16 system exceptions: the firmware
// enables no peripheral interrupt. KEEP(*(.isr_vector)) puts it first in flash.
using Vector = void (*)();
extern "C" __attribute__((section(".isr_vector"), used)) const Vector kiln_vector_table[16] = {
    reinterpret_cast<Vector>(__stack_top),
    Reset_Handler,
    Default_Handler,    // NMI
    HardFault_Handler,  // HardFault
    Default_Handler,    // MemManage (disabled at reset: escalates to HardFault)
    Default_Handler,    // BusFault (likewise)
    Default_Handler,    // UsageFault (likewise)
    Default_Handler,    // SecureFault (v8-M) / reserved
    nullptr, nullptr, nullptr,
    Default_Handler,  // SVCall
    Default_Handler,  // DebugMonitor
    nullptr,
    Default_Handler,  // PendSV
    SysTick_Handler,  // SysTick (Default_Handler unless a firmware defines one)
};

extern "C" void Reset_Handler() {
#if defined(__ARM_FP)
  // The FPU is off at reset and the first float instruction would fault (NOCP): grant full
  // access to CP10/CP11 first, then dsb/isb so the next instructions see it.
  reg(kCPACR) |= 0xFu << 20;
  asm volatile("dsb\n\tisb" ::: "memory");
#endif
#if defined(__ARM_ARCH_8M_MAIN__)
  // v8-M has a hardware stack limit: a stack overflow becomes a fault, not silent corruption.
  asm volatile("msr msplim, %0" ::"r"(__stack_limit));
#endif
  // GCC turns these two loops into memcpy/memset calls: fine, those touch no globals.
  for (std::uint32_t *src = __data_load, *dst = __data_start; dst < __data_end;) *dst++ = *src++;
  for (std::uint32_t* dst = __bss_start; dst < __bss_end;) *dst++ = 0;
  for (InitFn* f = __preinit_array_start; f < __preinit_array_end; ++f) (*f)();
  for (InitFn* f = __init_array_start; f < __init_array_end; ++f) (*f)();
  // Static destructors are not run: the run ends here, qemu's exit status = main's value.
  kiln_fw::exit(main());
}

// Called from HardFault_Handler with the exception stack frame (r0-r3, r12, lr, pc, xpsr).
extern "C" [[noreturn]] __attribute__((used)) void kiln_fw_hard_fault(const std::uint32_t* frame) {
  kiln_fw::print("\n*** HardFault");
  print_reg(" cfsr=", reg(kCFSR));
  print_reg(" hfsr=", reg(kHFSR));
  print_reg(" mmfar=", reg(kMMFAR));
  print_reg(" bfar=", reg(kBFAR));
  // With a stack overflow the frame may not have been written: only read it if it is in RAM.
  const auto sp = reinterpret_cast<std::uintptr_t>(frame);
  if (sp >= reinterpret_cast<std::uintptr_t>(__stack_limit) &&
      sp + 32 <= reinterpret_cast<std::uintptr_t>(__stack_top)) {
    print_reg(" pc=", frame[6]);
    print_reg(" lr=", frame[5]);
  } else {
    print_reg(" sp=", static_cast<std::uint32_t>(sp));
    kiln_fw::print(" (stack overflow?)");
  }
  kiln_fw::print("\n");
  kiln_fw::exit(kiln_fw::kExitHardFault);
}

// Naked: pass the stack pointer in use when the fault happened (EXC_RETURN bit 2 tells MSP
// or PSP) before any prologue moves it.
extern "C" __attribute__((naked)) void HardFault_Handler() {
  asm volatile(
      "tst lr, #4\n\t"
      "ite eq\n\t"
      "mrseq r0, msp\n\t"
      "mrsne r0, psp\n\t"
      "b kiln_fw_hard_fault\n\t");
}

extern "C" void Default_Handler() {
  std::uint32_t ipsr;
  asm volatile("mrs %0, ipsr" : "=r"(ipsr));
  kiln_fw::print("\n*** unexpected exception ");
  kiln_fw::print_int(static_cast<long>(ipsr & 0x1ff));
  kiln_fw::print("\n");
  kiln_fw::exit(kiln_fw::kExitUnexpectedIrq);
}

// C++ ABI pieces normally in libsupc++ (not installed, and not wanted: it brings the heap).
// A class with a virtual destructor references operator delete from its deleting destructor
// even if nothing is ever deleted; a pure virtual slot references __cxa_pure_virtual.
// Reaching either at run time is a bug: stop. There is deliberately no operator new.
namespace {
[[noreturn]] void cxx_abi_trap(const char* what) {
  kiln_fw::print("\n*** ");
  kiln_fw::print(what);
  kiln_fw::print(" called\n");
  kiln_fw::exit(kiln_fw::kExitCxxAbiTrap);
}
}  // namespace
extern "C" void __cxa_pure_virtual() { cxx_abi_trap("pure virtual function"); }
void operator delete(void*) noexcept { cxx_abi_trap("operator delete"); }
void operator delete(void*, std::size_t) noexcept { cxx_abi_trap("operator delete"); }
