/*
 * ocl_fns.h: the OpenCL entry points tq uses, resolved with dlsym from the ICD loader at
 * run time (the plugin has no link-time dependency on libOpenCL). Only OpenCL 1.2 entry
 * points: newer ones are used only when a device reports them.
 */
#ifndef TQ_OCL_FNS_H
#define TQ_OCL_FNS_H

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>
#include <CL/cl_ext.h>

#define TQ_OCL_FNS(X) \
    X(clGetPlatformIDs) \
    X(clGetPlatformInfo) \
    X(clGetDeviceIDs) \
    X(clGetDeviceInfo) \
    X(clCreateContext) \
    X(clReleaseContext) \
    X(clCreateCommandQueue) \
    X(clReleaseCommandQueue) \
    X(clCreateBuffer) \
    X(clReleaseMemObject) \
    X(clEnqueueWriteBuffer) \
    X(clEnqueueReadBuffer) \
    X(clEnqueueFillBuffer) \
    X(clCreateProgramWithSource) \
    X(clCreateProgramWithBinary) \
    X(clBuildProgram) \
    X(clGetProgramBuildInfo) \
    X(clGetProgramInfo) \
    X(clReleaseProgram) \
    X(clCreateKernel) \
    X(clReleaseKernel) \
    X(clSetKernelArg) \
    X(clGetKernelWorkGroupInfo) \
    X(clEnqueueNDRangeKernel) \
    X(clFlush) \
    X(clFinish) \
    X(clWaitForEvents) \
    X(clGetEventInfo) \
    X(clGetEventProfilingInfo) \
    X(clReleaseEvent)

typedef struct tq_ocl_fns {
#define TQ_OCL_FN_FIELD(name) __typeof__(&name) name;
    TQ_OCL_FNS(TQ_OCL_FN_FIELD)
#undef TQ_OCL_FN_FIELD
} tq_ocl_fns;

/* "CL_OUT_OF_RESOURCES" etc. for messages; "CL error <n>" for unknown codes (thread-safe:
 * unknown codes are written into buf). */
const char *tq_ocl_err(cl_int err, char buf[32]);

#endif /* TQ_OCL_FNS_H */
